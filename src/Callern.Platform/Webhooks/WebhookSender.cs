using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;

namespace Callern.Platform.Webhooks;

/// <summary>What one delivery attempt got: the receiver's status, or why there was none.</summary>
public sealed record DeliveryOutcome(int? StatusCode, string? Error, int DurationMs, string? ResponseSnippet)
{
    public bool Delivered => StatusCode is >= 200 and < 300;
}

/// <summary>
/// Sends one signed delivery. The connection is made only to addresses <see cref="ReceiverAddresses"/>
/// allows, checked as the name resolves at that moment; redirects are not followed; an attempt may take
/// <see cref="WebhookOptions.AttemptTimeoutSeconds"/> in all; at most <see cref="SnippetBytes"/> of the
/// answer are read. Each endpoint has its own circuit breaker (Polly): a receiver failing most
/// attempts gets none for a while, and those deliveries wait for their next retry.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    public const int SnippetBytes = 1024;
    private readonly HttpClient _http;
    private readonly WebhookOptions _options;
    private readonly bool _allowLocal;
    private readonly ConcurrentDictionary<Guid, ResiliencePipeline<HttpResponseMessage>> _breakers = new();

    public WebhookSender(IOptions<WebhookOptions> options, IHostEnvironment environment)
    {
        _options = options.Value;
        _allowLocal = options.Value.AllowLocalReceivers ?? environment.IsDevelopment();
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = ConnectAsync,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Callern-Webhooks/1");
    }

    public bool AllowsLocalReceivers => _allowLocal;

    public async Task<DeliveryOutcome> SendAsync(Guid endpointId, Uri url, string eventId, long timestamp, byte[] body, SigningSecrets secrets, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        int Elapsed() => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            using var response = await Breaker(endpointId).ExecuteAsync(async token =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };
                request.Headers.Add("webhook-id", eventId);
                request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
                request.Headers.Add("webhook-signature", WebhookSignature.Header(eventId, timestamp, body, secrets));
                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
            }, cancellationToken);
            return new DeliveryOutcome((int)response.StatusCode, null, Elapsed(), await SnippetAsync(response, cancellationToken));
        }
        catch (BrokenCircuitException)
        {
            return new DeliveryOutcome(null, "not attempted: the endpoint's recent attempts failed (circuit open)", Elapsed(), null);
        }
        catch (Exception error) when (error is HttpRequestException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            return new DeliveryOutcome(null, error is HttpRequestException http ? http.Message : "timed out", Elapsed(), null);
        }
    }

    private ResiliencePipeline<HttpResponseMessage> Breaker(Guid endpointId) =>
        _breakers.GetOrAdd(endpointId, _ => new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddCircuitBreaker(new()
            {
                FailureRatio = 0.8,
                MinimumThroughput = 10,
                SamplingDuration = TimeSpan.FromMinutes(1),
                BreakDuration = TimeSpan.FromMinutes(1),
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<Polly.Timeout.TimeoutRejectedException>()
                    .HandleResult(r => (int)r.StatusCode >= 500 || r.StatusCode == HttpStatusCode.RequestTimeout),
            })
            .AddTimeout(TimeSpan.FromSeconds(_options.AttemptTimeoutSeconds))
            .Build());

    private static async Task<string?> SnippetAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[SnippetBytes];
        var read = 0;
        int n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
        {
            read += n;
        }
        return read == 0 ? null : Encoding.UTF8.GetString(buffer, 0, read);
    }

    /// <summary>Connects to the first address of the name that is allowed, checked now (no DNS rebinding past the save-time check).</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellationToken);
        var allowed = addresses.Where(a => _allowLocal || ReceiverAddresses.IsPublic(a)).ToList();
        if (allowed.Count == 0)
        {
            throw new HttpRequestException($"{context.DnsEndPoint.Host} resolves to no public address.");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed.ToArray(), context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();
}
