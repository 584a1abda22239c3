using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Callern.Platform.Signaling;

/// <summary>
/// A token bucket per connection: a burst of <see cref="SignalingOptions.MessageBurst"/> invocations,
/// refilled at <see cref="SignalingOptions.MessagesPerSecond"/>. A flooding connection gets
/// <c>rate_limited</c> errors before its calls reach any service or the database; every other
/// connection is untouched. Per connection, not per user, so it needs no shared state between nodes.
/// </summary>
public sealed class HubRateLimitFilter(IOptions<SignalingOptions> options, TimeProvider time) : IHubFilter
{
    public ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var items = invocationContext.Context.Items;
        if (items[typeof(TokenBucket)] is not TokenBucket bucket)
        {
            items[typeof(TokenBucket)] = bucket = new TokenBucket(options.Value.MessageBurst, options.Value.MessagesPerSecond, time);
        }
        if (!bucket.TryTake())
        {
            throw HubErrors.Create(HubErrors.RateLimited, "Too many invocations on this connection; slow down and retry.");
        }
        return next(invocationContext);
    }

    private sealed class TokenBucket(int capacity, double perSecond, TimeProvider time)
    {
        private readonly Lock _lock = new();
        private double _tokens = capacity;
        private long _refilledAt = time.GetTimestamp();

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
