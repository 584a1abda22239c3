using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Callern.Platform.Infrastructure;
using Callern.Platform.Signaling;
using Callern.Platform.Tests.Infrastructure;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.Calls;

/// <summary>
/// A student or teacher on the hub, as an app holds one: records every call event it receives
/// so a test can wait for the next one of a kind, in order.
/// </summary>
public sealed class CallParty : IAsyncDisposable
{
    private static readonly string[] Events =
    [
        "CallQueued", "CallRinging", "IncomingCall", "OfferClosed", "CallAccepted", "Signal", "CallConnected",
        "CallTimer", "BalanceWarning", "PeerConnection", "CallEnded",
        "MediaStateChanged", "ChatMessageReceived", "WhiteboardOperationReceived", "FileShared",
    ];

    private readonly ConcurrentDictionary<string, Channel<JsonElement>> _events = new();
    private readonly CallernApp _app;
    private readonly string _token;

    private CallParty(CallernApp app, string userId, string token)
    {
        _app = app;
        _token = token;
        UserId = userId;
        Connection = Connect();
    }

    public string UserId { get; }
    public HubConnection Connection { get; private set; }

    public static async Task<CallParty> JoinAsync(CallernApp app, TestTenant tenant, string userId, string role)
    {
        var party = new CallParty(app, userId, app.Token(tenant, userId, role));
        await HubClient.StartAsync(party.Connection);
        return party;
    }

    /// <summary>Drops the connection (a network blip or a closed tab).</summary>
    public Task LeaveAsync() => Connection.StopAsync();

    /// <summary>Comes back on a new connection.</summary>
    public async Task ReturnAsync()
    {
        await Connection.DisposeAsync();
        Connection = Connect();
        await HubClient.StartAsync(Connection);
    }

    /// <summary>The next event of that name, failing after 10 s of real time.</summary>
    public async Task<T> NextAsync<T>(string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            var element = await Channel(name).Reader.ReadAsync(timeout.Token);
            return element.Deserialize<T>(new JsonSerializerOptions(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } })!;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{UserId} got no {name} within 10 s.");
        }
    }

    /// <summary>Whether an event of that name arrived (and is waiting), without waiting for one.</summary>
    public bool Has(string name) => Channel(name).Reader.Count > 0;

    public Task<T> InvokeAsync<T>(string method, params object?[] args) => Connection.InvokeCoreAsync<T>(method, args);

    public Task InvokeAsync(string method, params object?[] args) => Connection.InvokeCoreAsync(method, args);

    private HubConnection Connect()
    {
        var connection = HubClient.Build(_app, _token);
        foreach (var name in Events)
        {
            connection.On<JsonElement>(name, e => Channel(name).Writer.TryWrite(e));
        }
        return connection;
    }

    private Channel<JsonElement> Channel(string name) => _events.GetOrAdd(name, _ => System.Threading.Channels.Channel.CreateUnbounded<JsonElement>());

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}

/// <summary>Time on the fake clock, and firing the durable deadlines that came due.</summary>
public static class CallClock
{
    /// <summary>
    /// Moves the clock in 5-second steps; after each, the live connections beat (as the heartbeat
    /// service does on its own timer, which on a fake clock would race the test) and due deadlines fire.
    /// </summary>
    public static async Task AdvanceAsync(this CallernApp app, TimeSpan by)
    {
        var deadlines = app.Services.GetRequiredService<Deadlines>();
        var tracker = app.Services.GetRequiredService<ConnectionTracker>();
        var presence = app.Services.GetRequiredService<PresenceStore>();
        var step = TimeSpan.FromSeconds(5);
        for (var moved = TimeSpan.Zero; moved < by; moved += step)
        {
            var next = by - moved < step ? by - moved : step;
            app.Clock.Advance(next);
            await presence.TouchAsync(tracker.LiveConnectionIds.ToList(), app.Clock.GetUtcNow());
            await deadlines.SweepOnceAsync();
        }
    }

    public static Task<int> FireDueAsync(this CallernApp app) => app.Services.GetRequiredService<Deadlines>().SweepOnceAsync();
}
