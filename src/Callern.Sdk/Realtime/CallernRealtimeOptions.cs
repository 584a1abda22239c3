using Microsoft.AspNetCore.Http.Connections.Client;

namespace Callern.Sdk.Realtime;

/// <summary>Where the platform is, how to authenticate, and how patiently to reconnect.</summary>
public sealed class CallernRealtimeOptions
{
    /// <summary>
    /// The default backoff: at once, then 1, 2 and 3 s, then every 5 s for the first minute, then every
    /// 30 s. A live call survives a lapse of the platform's reconnect grace (30 s by default, counted
    /// from the last confirmed media): attempts stay 5 s apart through it, so a client finds a
    /// restarted platform within 5 s of its return, in time to rejoin; after a minute the call is lost
    /// anyway and attempts thin out.
    /// </summary>
    public static IReadOnlyList<TimeSpan> DefaultReconnectDelays { get; } =
        [
            TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3),
            .. Enumerable.Repeat(TimeSpan.FromSeconds(5), 11),
            TimeSpan.FromSeconds(30),
        ];

    /// <summary>The platform's base URL, for example <c>https://callern.school.example</c>; the hub is <c>{BaseUrl}/hubs/calls</c>.</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>
    /// Returns a current access token (signed by the school's backend, for example with
    /// <see cref="AccessTokenBuilder"/>). Called when the connection authenticates, on the first
    /// connect and every reconnect, so an expired token is replaced without recreating the client
    /// (each token serves one connect: its negotiate request and its WebSocket carry the same one).
    /// </summary>
    public required Func<CancellationToken, ValueTask<string>> AccessTokenProvider { get; init; }

    /// <summary>Waits before each reconnect attempt; the last one repeats forever. Default <see cref="DefaultReconnectDelays"/>.</summary>
    public IReadOnlyList<TimeSpan> ReconnectDelays { get; init; } = DefaultReconnectDelays;

    /// <summary>
    /// The hub protocol: <see cref="RealtimeProtocol.Json"/> (default) or <see cref="RealtimeProtocol.MessagePack"/>,
    /// which carries the same values in fewer bytes.
    /// </summary>
    public RealtimeProtocol Protocol { get; init; } = RealtimeProtocol.Json;

    /// <summary>
    /// Adjusts the SignalR connection options (transports, proxy, headers, a custom WebSocket or HTTP handler factory);
    /// runs after the SDK set the access token provider.
    /// </summary>
    public Action<HttpConnectionOptions>? ConfigureConnection { get; init; }
}
