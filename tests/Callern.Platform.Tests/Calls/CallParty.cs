using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Callern.Platform.Calls;
using Callern.Platform.Infrastructure;
using Callern.Platform.Signaling;
using Callern.Platform.Tests.Infrastructure;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
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
        "CallTimer", "BalanceWarning", "PeerConnection", "CallEnded", "LiveCall", "PeerRejoined",
        "MediaStateChanged", "ChatMessageReceived", "WhiteboardOperationReceived", "FileShared",
    ];

    /// <summary>The parties of each host, so that moving a fake clock can have their media confirmed as their SDK would.</summary>
    private static readonly ConcurrentDictionary<CallParty, ICallernHost> Parties = new();

    private readonly ConcurrentDictionary<string, Channel<JsonElement>> _events = new();
    private readonly Func<HubConnection> _build;
    private readonly Func<DateTimeOffset> _now;
    private Guid? _mediaCall;
    private bool _mediaFlowing;
    private long _inboundBytes;
    private DateTimeOffset? _confirmedAt;

    private CallParty(Func<HubConnection> build, string userId, Func<DateTimeOffset> now)
    {
        _build = build;
        _now = now;
        UserId = userId;
        Connection = Connect();
    }

    public string UserId { get; }
    public HubConnection Connection { get; private set; }

    /// <summary>Confirms media as hub messages without an invocation id, which get no answer (as the TypeScript SDK does while a call bills).</summary>
    public bool ConfirmsWithoutAnswers { get; set; }

    public static async Task<CallParty> JoinAsync(ICallernHost host, TestTenant tenant, string userId, string role)
    {
        var token = host.Token(tenant, userId, role);
        var party = new CallParty(() => host.Hub(token), userId, host is CallernApp app ? app.Clock.GetUtcNow : () => DateTimeOffset.UtcNow);
        Parties[party] = host;
        await HubClient.StartAsync(party.Connection);
        return party;
    }

    public static IEnumerable<CallParty> On(ICallernHost host) => Parties.Where(p => p.Value == host).Select(p => p.Key);

    /// <summary>Media of the call reaches this party: its confirmations (<see cref="ConfirmMediaAsync"/>) say so.</summary>
    public void StartMedia(Guid callId)
    {
        _mediaCall = callId;
        _mediaFlowing = true;
    }

    /// <summary>The party's media stops arriving (ICE failed, the peer's tab froze): confirmations go on, the bytes stop growing.</summary>
    public void StopMedia() => _mediaFlowing = false;

    /// <summary>A new peer connection (after a reload or a rejoin): its byte counters start again from zero.</summary>
    public void RestartMedia(Guid callId)
    {
        _inboundBytes = 0;
        StartMedia(callId);
    }

    /// <summary>
    /// Confirms the media received since the last confirmation, as the SDKs do every 4 s; nothing
    /// when the party has no media, is not connected, or confirmed too recently (<see cref="MediaConfirmationRules.MinSpacing"/>).
    /// </summary>
    public async Task ConfirmMediaAsync()
    {
        var now = _now();
        if (_mediaCall is not { } callId || Connection.State != HubConnectionState.Connected
            || (_confirmedAt is { } last && now - last < MediaConfirmationRules.MinSpacing))
        {
            return;
        }
        _inboundBytes += _mediaFlowing ? 5_000 : 0;
        _confirmedAt = now;
        try
        {
            var confirmation = new Platform.Calls.MediaConfirmation(now, _inboundBytes);
            if (ConfirmsWithoutAnswers)
            {
                await Connection.SendAsync(nameof(CallsHub.ConfirmMedia), callId, confirmation);
                // The hub handles a connection's messages in order: once a read is answered, the confirmation was handled.
                await InvokeAsync<Platform.Classroom.RoomState>(nameof(CallsHub.GetRoomState), callId, 0L, 0L);
            }
            else
            {
                await InvokeAsync<Platform.Calls.MediaConfirmationResult>(nameof(CallsHub.ConfirmMedia), callId, confirmation);
            }
        }
        catch (HubException ended) when (ended.Message.Contains("call_ended") || ended.Message.Contains("call_not_found"))
        {
            _mediaCall = null;
        }
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
        var connection = _build();
        foreach (var name in Events)
        {
            connection.On<JsonElement>(name, e => Channel(name).Writer.TryWrite(e));
        }
        return connection;
    }

    private Channel<JsonElement> Channel(string name) => _events.GetOrAdd(name, _ => System.Threading.Channels.Channel.CreateUnbounded<JsonElement>());

    public async ValueTask DisposeAsync()
    {
        Parties.TryRemove(this, out _);
        await Connection.DisposeAsync();
    }
}

/// <summary>Time on the fake clock, and firing the durable deadlines that came due.</summary>
public static class CallClock
{
    /// <summary>
    /// Moves the clock in steps of the media confirmation interval; after each, the live connections
    /// beat, the parties with media confirm it, lapses and confirmations are written (as the heartbeat
    /// and the confirmation watchdog do on their own, coarser timers, which on a fake clock would race
    /// the test) and due deadlines fire.
    /// </summary>
    public static async Task AdvanceAsync(this CallernApp app, TimeSpan by)
    {
        var deadlines = app.Services.GetRequiredService<Deadlines>();
        var tracker = app.Services.GetRequiredService<ConnectionTracker>();
        var presence = app.Services.GetRequiredService<PresenceStore>();
        var metering = app.Services.GetRequiredService<CallMetering>();
        var step = MediaConfirmationRules.Interval;
        for (var moved = TimeSpan.Zero; moved < by; moved += step)
        {
            var next = by - moved < step ? by - moved : step;
            app.Clock.Advance(next);
            await presence.TouchAsync(tracker.LiveConnectionIds.ToList(), app.Clock.GetUtcNow());
            foreach (var party in CallParty.On(app))
            {
                await party.ConfirmMediaAsync();
            }
            await metering.CatchUpAsync();
            await metering.FlushStampsAsync();
            await deadlines.SweepOnceAsync();
        }
    }

    public static Task<int> FireDueAsync(this CallernApp app) => app.Services.GetRequiredService<Deadlines>().SweepOnceAsync();
}
