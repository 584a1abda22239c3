using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Callern.Platform.Signaling;

/// <summary>
/// A token bucket per connection: a burst of <see cref="SignalingOptions.MessageBurst"/> invocations,
/// refilled at <see cref="SignalingOptions.MessagesPerSecond"/>. A flooding connection gets
/// <c>rate_limited</c> errors before its calls reach any service or the database; every other
/// connection is untouched. Per connection, not per user, so it needs no shared state between nodes.
/// Refusals are counted and logged at most once per connection per <see cref="ReportInterval"/>, as
/// one warning with the count and no stack trace (the refusal itself reaches the log only at Debug:
/// <see cref="Infrastructure.RedactingLoggerFactory"/>).
/// </summary>
public sealed class HubRateLimitFilter(IOptions<SignalingOptions> options, TimeProvider time, ILogger<HubRateLimitFilter> logger) : IHubFilter
{
    public static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    public ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var items = invocationContext.Context.Items;
        if (items[typeof(TokenBucket)] is not TokenBucket bucket)
        {
            items[typeof(TokenBucket)] = bucket = new TokenBucket(options.Value.MessageBurst, options.Value.MessagesPerSecond, time);
        }
        if (!bucket.TryTake())
        {
            if (bucket.CountRefusal(ReportInterval) is { } refused)
            {
                logger.LogWarning("Hub connection {ConnectionId} of {User}: {Refused} invocations refused by its rate limit since the last report (at most one report per {ReportSeconds} s)",
                    invocationContext.Context.ConnectionId, invocationContext.Context.UserIdentifier, refused, ReportInterval.TotalSeconds);
            }
            throw HubErrors.Create(HubErrors.RateLimited, "Too many invocations on this connection; slow down and retry.");
        }
        return next(invocationContext);
    }

    private sealed class TokenBucket(int capacity, double perSecond, TimeProvider time)
    {
        private readonly Lock _lock = new();
        private double _tokens = capacity;
        private long _refilledAt = time.GetTimestamp();
        private long _refused;
        private long? _reportedAt;

        /// <summary>Counts a refusal; answers the count to report when the last report is at least <paramref name="interval"/> old.</summary>
        public long? CountRefusal(TimeSpan interval)
        {
            lock (_lock)
            {
                _refused++;
                var now = time.GetTimestamp();
                if (_reportedAt is { } last && time.GetElapsedTime(last, now) < interval)
                {
                    return null;
                }
                var refused = _refused;
                _refused = 0;
                _reportedAt = now;
                return refused;
            }
        }

        public bool TryTake()
        {
            lock (_lock)
            {
                var now = time.GetTimestamp();
                _tokens = Math.Min(capacity, _tokens + time.GetElapsedTime(_refilledAt, now).TotalSeconds * perSecond);
                _refilledAt = now;
                if (_tokens < 1)
                {
                    return false;
                }
                _tokens -= 1;
                return true;
            }
        }
    }
}
