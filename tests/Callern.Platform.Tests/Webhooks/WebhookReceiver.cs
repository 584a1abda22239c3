using System.Net;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Callern.Platform.Tests.Webhooks;

/// <summary>One request a receiver got: the Standard Webhooks headers, the raw body, and what it answered.</summary>
public sealed record ReceivedWebhook(string? Id, string? Timestamp, string? Signature, string Body, int AnsweredStatus);

/// <summary>
/// A school's webhook receiver on a real socket (Kestrel on loopback): records every request and
/// answers 204, or 500 for the next <see cref="FailNext"/> requests. <see cref="StopAsync"/> takes it
/// off the network (connections refused); <see cref="StartAsync"/> brings it back on the same port.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly Channel<ReceivedWebhook> _received = Channel.CreateUnbounded<ReceivedWebhook>();
    private WebApplication? _app;
    private int _failures;

    private WebhookReceiver()
    {
    }

    public int Port { get; private set; }

    public Uri Url => new($"http://127.0.0.1:{Port}/hooks/callern");

    public static async Task<WebhookReceiver> StartNewAsync()
    {
        var receiver = new WebhookReceiver();
        await receiver.StartAsync();
        return receiver;
    }

    /// <summary>The next <paramref name="count"/> requests are answered 500.</summary>
    public void FailNext(int count) => Interlocked.Exchange(ref _failures, count);

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, Port));
        _app = builder.Build();
        _app.MapPost("/hooks/callern", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            var status = Interlocked.Decrement(ref _failures) >= 0 ? 500 : 204;
            _received.Writer.TryWrite(new ReceivedWebhook(
                http.Request.Headers["webhook-id"], http.Request.Headers["webhook-timestamp"], http.Request.Headers["webhook-signature"], body, status));
            return Results.StatusCode(status);
        });
        await _app.StartAsync();
        Port = new Uri(_app.Urls.First()).Port;
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    /// <summary>The next request received (whatever it was answered); fails after <paramref name="within"/> (15 s).</summary>
    public async Task<ReceivedWebhook> NextAsync(TimeSpan? within = null)
    {
        using var timeout = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(15));
        return await _received.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>What arrives within <paramref name="wait"/> of now, and whatever follows at once (possibly nothing).</summary>
    public async Task<List<ReceivedWebhook>> DrainAsync(TimeSpan wait)
    {
        var received = new List<ReceivedWebhook>();
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            received.Add(await _received.Reader.ReadAsync(timeout.Token));
        }
        catch (OperationCanceledException)
        {
            return received;
        }
        while (_received.Reader.TryRead(out var next))
        {
            received.Add(next);
        }
        return received;
    }

    /// <summary>The next requests answered 2xx, until <paramref name="count"/> of them, each within <paramref name="within"/> (15 s).</summary>
    public async Task<List<ReceivedWebhook>> DeliveredAsync(int count, TimeSpan? within = null)
    {
        var delivered = new List<ReceivedWebhook>();
        while (delivered.Count < count)
        {
            var next = await NextAsync(within);
            if (next.AnsweredStatus is >= 200 and < 300)
            {
                delivered.Add(next);
            }
        }
        return delivered;
    }

    public int Pending => _received.Reader.Count;

    public ValueTask DisposeAsync() => new(StopAsync());
}
