using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Callern.Sdk.Realtime;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// A student's or teacher's app on the C# SDK, as issue 17's fault tests need one: the SDK's
/// realtime client (stateful and automatic reconnect, default delays), a media counter that grows
/// while media "flows" (<see cref="StopMedia"/> freezes it, as when ICE fails or the peer's tab
/// freezes), and the SDK's <see cref="MediaConfirmer"/> confirming it every 2 s from the moment
/// the call is accepted. A new connection that the platform tells about a live call rejoins it, as
/// an app does, and a rejoin on either side starts a new peer connection (the counter from zero). Every confirmation and its answer is kept: the record from which a test measures
/// the two-way media both clients confirmed.
/// </summary>
public sealed class MediaParty : IAsyncDisposable
{
    /// <summary>About a video call's inbound rate.</summary>
    private const long BytesPerSecond = 150_000;

    private readonly Lock _gate = new();
    private readonly List<MediaConfirmationReport> _reports = [];
    private readonly ITestOutputHelper _output;
    private readonly TaskCompletionSource<CallEndedEvent> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<CallConnectedEvent> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<IncomingCallEvent> _incoming = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(DateTimeOffset ReceivedAt, PeerConnectionEvent Event)> _peerConnections = [];
    private MediaConfirmer? _confirmer;
    private long _bytesBefore;
    private DateTimeOffset? _flowingSince;
    private bool? _lastMediaFlowing;
    private bool? _lastBilling;
    private string? _lastRefusal;

    private MediaParty(string userId, CallernRealtimeClient client, ITestOutputHelper output)
    {
        UserId = userId;
        Client = client;
        _output = output;
    }

    public string UserId { get; }
    public CallernRealtimeClient Client { get; }

    /// <summary>How many CallAccepted events the SDK raised (one per call, whatever the teacher got twice).</summary>
    public int AcceptedCount { get; private set; }

    public Task<CallEndedEvent> Ended => _ended.Task;
    public Task<CallConnectedEvent> Connected => _connected.Task;
    public Task<IncomingCallEvent> Incoming => _incoming.Task;

    /// <summary>Every confirmation the SDK sent, with the platform's answer or refusal.</summary>
    public IReadOnlyList<MediaConfirmationReport> Reports
    {
        get
        {
            lock (_gate)
            {
                return [.. _reports];
            }
        }
    }

    /// <summary>The PeerConnection events ("reconnecting" / "back") in order.</summary>
    public IReadOnlyList<PeerConnectionEvent> PeerConnections => PeerConnectionLog.Select(e => e.Event).ToList();

    /// <summary>The PeerConnection events with when this app received them.</summary>
    public IReadOnlyList<(DateTimeOffset ReceivedAt, PeerConnectionEvent Event)> PeerConnectionLog
    {
        get
        {
            lock (_gate)
            {
                return [.. _peerConnections];
            }
        }
    }

    /// <summary>Connects to the platform at <paramref name="baseUrl"/> (directly, or through a proxy).</summary>
    public static async Task<MediaParty> JoinAsync(Uri baseUrl, Func<string> token, string userId, ITestOutputHelper output)
    {
        var client = new CallernRealtimeClient(new CallernRealtimeOptions
        {
            BaseUrl = baseUrl,
            AccessTokenProvider = _ => ValueTask.FromResult(token()),
        });
        var party = new MediaParty(userId, client, output);
        party.Subscribe();
        await client.StartAsync();
        return party;
    }

    /// <summary>Inbound media bytes so far, as the app's media stack would count them.</summary>
    public long InboundBytes()
    {
        lock (_gate)
        {
            return _bytesBefore + (_flowingSince is { } since ? (long)((DateTimeOffset.UtcNow - since).TotalSeconds * BytesPerSecond) : 0);
        }
    }

    /// <summary>Media stops arriving on this side (the counter freezes); the hub connection stays up.</summary>
    public void StopMedia()
    {
        lock (_gate)
        {
            _bytesBefore = InboundBytes();
            _flowingSince = null;
        }
        Log("media stops arriving");
    }

    /// <summary>Media arrives again.</summary>
    public void ResumeMedia()
    {
        lock (_gate)
        {
            _flowingSince ??= DateTimeOffset.UtcNow;
        }
        Log("media arrives again");
    }

    /// <summary>
    /// The app starts a new peer connection (after its own rejoin, or its peer's): the counter starts
    /// again from zero, as a new RTCPeerConnection's inbound-rtp stats do, and grows if media flows.
    /// </summary>
    public void NewPeerConnection()
    {
        lock (_gate)
        {
            _bytesBefore = 0;
            if (_flowingSince is not null)
            {
                _flowingSince = DateTimeOffset.UtcNow;
            }
        }
        Log("new peer connection: the counter starts from zero");
    }

    /// <summary>The app goes away: its connection closes and it confirms nothing more.</summary>
    public async Task LeaveAsync()
    {
        Log("leaves (closes its connection)");
        await Client.StopAsync();
        if (_confirmer is { } confirmer)
        {
            await confirmer.DisposeAsync();
        }
    }

    private void Subscribe()
    {
        Client.IncomingCall += e =>
        {
            _incoming.TrySetResult(e);
            return Task.CompletedTask;
        };
        Client.CallAccepted += e =>
        {
            AcceptedCount++;
            Log($"CallAccepted {e.CallId} (state {e.State}, server time {e.ServerTime:HH:mm:ss.fff})");
            ResumeMedia();
            StartConfirming(e.CallId);
            return Task.CompletedTask;
        };
        Client.CallConnected += e =>
        {
            Log($"CallConnected at {e.ConnectedAt:HH:mm:ss.fff}");
            _connected.TrySetResult(e);
            return Task.CompletedTask;
        };
        Client.PeerConnection += e =>
        {
            lock (_gate)
            {
                _peerConnections.Add((DateTimeOffset.UtcNow, e));
            }
            Log(e.Connected ? "PeerConnection: back" : $"PeerConnection: reconnecting, grace ends {e.GraceEndsAt:HH:mm:ss.fff}");
            return Task.CompletedTask;
        };
        Client.PeerRejoined += e =>
        {
            Log($"PeerRejoined: {e.UserId}");
            NewPeerConnection();
            return Task.CompletedTask;
        };
        Client.CallEnded += e =>
        {
            Log($"CallEnded: {e.Reason}, billed {e.BilledSeconds} s");
            _ended.TrySetResult(e);
            return Task.CompletedTask;
        };
        Client.LiveCall += async e =>
        {
            Log($"LiveCall {e.CallId} ({e.State}); rejoining");
            try
            {
                var rejoined = await Client.RejoinCallAsync(e.CallId);
                Log($"rejoined ({rejoined.State})");
                NewPeerConnection();
                StartConfirming(e.CallId);
            }
            catch (CallernRealtimeException refused)
            {
                Log($"rejoin refused: {refused.Code}");
            }
        };
        Client.ConnectionStateChanged += e =>
        {
            Log($"connection {e.State}{(e.Error is null ? "" : ": " + e.Error.GetType().Name)}");
            return Task.CompletedTask;
        };
    }

    private void StartConfirming(Guid callId)
    {
        lock (_gate)
        {
            if (_confirmer is { Completion.IsCompleted: false } || _ended.Task.IsCompleted)
            {
                return;
            }
            _confirmer = Client.StartMediaConfirmations(callId, InboundBytes);
            _confirmer.Reported += Record;
        }
    }

    private Task Record(MediaConfirmationReport report)
    {
        string? change = null;
        lock (_gate)
        {
            _reports.Add(report);
            if (report.Result is { } result && (result.MediaFlowing != _lastMediaFlowing || result.Billing != _lastBilling))
            {
                change = $"confirmation at {report.SampledAt:HH:mm:ss.fff} ({report.InboundBytes} B): mediaFlowing {result.MediaFlowing}, billing {result.Billing}";
                (_lastMediaFlowing, _lastBilling, _lastRefusal) = (result.MediaFlowing, result.Billing, null);
            }
            else if (report.RefusedCode is { } code && code != _lastRefusal)
            {
                change = $"confirmation at {report.SampledAt:HH:mm:ss.fff} refused: {code}";
                (_lastMediaFlowing, _lastBilling, _lastRefusal) = (null, null, code);
            }
        }
        if (change is not null)
        {
            Log(change);
        }
        return Task.CompletedTask;
    }

    private void Log(string message) => _output.TryWriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} [{UserId}] {message}");

    public async ValueTask DisposeAsync()
    {
        if (_confirmer is { } confirmer)
        {
            await confirmer.DisposeAsync();
        }
        await Client.DisposeAsync();
    }
}
