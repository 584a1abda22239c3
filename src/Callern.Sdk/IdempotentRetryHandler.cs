using System.Net;
using Polly;
using Polly.Retry;

namespace Callern.Sdk;

/// <summary>How <see cref="IdempotentRetryHandler"/> retries.</summary>
public sealed class IdempotentRetryOptions
{
    /// <summary>Retries after the first attempt. Default 3.</summary>
    public int MaxRetryAttempts { get; init; } = 3;

    /// <summary>The first wait; later ones grow exponentially (with jitter). Default 200 ms.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait, also the cap on a server's <c>Retry-After</c>. Default 10 s.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Retries requests that are safe to repeat, and only those: <c>GET</c> and <c>HEAD</c>, and any
/// request carrying an <c>Idempotency-Key</c> header (the platform answers a repeated key with the
/// first result, so a purchase is never made twice). A plain <c>POST</c>, <c>PUT</c> or
/// <c>DELETE</c> is sent once. Retried: network failures, timeouts, <c>408</c>, <c>429</c>
/// (honouring <c>Retry-After</c>), <c>500</c>, <c>502</c>, <c>503</c>, <c>504</c>; exponential
/// backoff with jitter (Polly).
/// </summary>
/// <example>
/// With <c>IHttpClientFactory</c>: <c>services.AddHttpClient&lt;CallernClient&gt;(...).AddHttpMessageHandler(() => new IdempotentRetryHandler())</c>.
/// Without: <c>new HttpClient(new IdempotentRetryHandler { InnerHandler = new SocketsHttpHandler() })</c>.
/// </example>
public sealed class IdempotentRetryHandler : DelegatingHandler
{
    /// <summary>The header that makes a request safe to repeat.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;

    /// <summary>A handler with the default <see cref="IdempotentRetryOptions"/>.</summary>
    public IdempotentRetryHandler()
        : this(new IdempotentRetryOptions())
    {
    }

    /// <summary>A handler with the given retry options.</summary>
    /// <param name="options">How often and how long to wait.</param>
    public IdempotentRetryHandler(IdempotentRetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.Delay,
                MaxDelay = options.MaxDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: HttpRequestException } => true,
                    // A timeout of HttpClient, not the caller's own cancellation.
                    { Exception: OperationCanceledException } => !args.Context.CancellationToken.IsCancellationRequested,
                    { Result: { } response } => IsTransient(response.StatusCode),
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, options.MaxDelay)),
            })
            .Build();
    }

    /// <summary>Whether <paramref name="request"/> may be sent again: a GET or HEAD, or one with an <c>Idempotency-Key</c>.</summary>
    /// <param name="request">The request.</param>
    public static bool IsRetryable(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Headers.Contains(IdempotencyKeyHeader);
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsRetryable(request))
        {
            return await base.SendAsync(request, cancellationToken);
        }
        return await _pipeline.ExecuteAsync(async token => await base.SendAsync(request, token), cancellationToken);
    }

    private static bool IsTransient(HttpStatusCode status) => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    /// <summary>The server's <c>Retry-After</c> (capped), or null for the exponential backoff.</summary>
    private static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan max)
    {
        var retryAfter = response?.Headers.RetryAfter;
        var wait = retryAfter?.Delta ?? (retryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return wait is { } w ? TimeSpan.FromTicks(Math.Clamp(w.Ticks, 0, max.Ticks)) : null;
    }
}
