using Microsoft.AspNetCore.SignalR;
using StackExchange.Redis;

namespace Callern.Platform.Signaling;

/// <summary>
/// Several nodes share one hub through the SignalR Redis backplane: a message sent to a user's
/// group on one node reaches that user's connections on every node. Used when the connection string
/// <c>ConnectionStrings:Redis</c> is set; without it one node delivers in memory, as a single node
/// always has. <c>Callern:Redis:ChannelPrefix</c> (default <see cref="DefaultChannelPrefix"/>) keeps
/// deployments that share a Redis apart. Behaviour while Redis is away: docs/deployment.md.
/// </summary>
public static class Backplane
{
    public const string DefaultChannelPrefix = "callern";

    public static ISignalRServerBuilder AddBackplaneIfConfigured(this ISignalRServerBuilder signalR, IConfiguration configuration)
    {
        var redis = configuration.GetConnectionString("Redis");
        if (string.IsNullOrWhiteSpace(redis))
        {
            return signalR;
        }
        var prefix = configuration["Callern:Redis:ChannelPrefix"] is { Length: > 0 } configured ? configured : DefaultChannelPrefix;
        return signalR.AddStackExchangeRedis(redis, o =>
        {
            o.Configuration.ChannelPrefix = RedisChannel.Literal(prefix);
            // A node starts, and keeps serving its own connections, while Redis is away; it connects when Redis is back.
            o.Configuration.AbortOnConnectFail = false;
            // While Redis is away a send fails at once (the hub answers `unavailable`) instead of
            // queueing for the 5 s timeout: a connection's hub calls run one at a time, and a
            // media confirmation must not wait behind a signal that cannot be delivered.
            o.Configuration.BacklogPolicy = BacklogPolicy.FailFast;
        });
    }
}
