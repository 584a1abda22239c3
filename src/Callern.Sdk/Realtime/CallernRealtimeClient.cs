using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace Callern.Sdk.Realtime;

/// <summary>
/// The realtime client: one connection to the platform's hub (<c>/hubs/calls</c>) for one signed-in
/// user. Commands are async methods; events are C# events named as the TypeScript SDK's. The
/// connection uses SignalR's stateful reconnect, so a dropped socket whose network is back at once
/// loses no message in either direction; a connection that cannot be resumed (the network stayed
/// away, the platform restarted, another node) is replaced, and messages sent to the old one are
/// lost (<see cref="Reconnected"/>: restart ICE and catch up). It is re-established with backoff
/// (<see cref="CallernRealtimeOptions.ReconnectDelays"/>), asking
/// <see cref="CallernRealtimeOptions.AccessTokenProvider"/> for a fresh token, and the platform then
/// announces a live call with <see cref="LiveCall"/>. Commands issued meanwhile wait for it.
/// </summary>
public sealed partial class CallernRealtimeClient : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly Backoff _backoff;
    private readonly Lock _gate = new();
    private TaskCompletionSource _connected = NewWaiter();
    private CancellationTokenSource _stopping = new();
    private RealtimeConnectionState _state = RealtimeConnectionState.Disconnected;
    private bool _stopped = true;
    private readonly AcceptedCalls _accepted = new();
    /// <summary>Rejoins under way, by call: one <c>RejoinCall</c> per call at a time.</summary>
    private readonly ConcurrentDictionary<Guid, Lazy<Task<CallAcceptedEvent>>> _rejoining = new();
    private long _serverClockOffsetTicks;

    /// <summary>Creates the client; nothing connects until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where the platform is and how to authenticate.</param>
    public CallernRealtimeClient(CallernRealtimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _backoff = new Backoff(options.ReconnectDelays.Count > 0 ? options.ReconnectDelays : CallernRealtimeOptions.DefaultReconnectDelays);
        _connection = new HubConnectionBuilder()
            .WithUrl(new Uri(options.BaseUrl.ToString().TrimEnd('/') + "/hubs/calls"), o =>
            {
                // The platform's only transport (docs/realtime.md): no fallback attempts when a socket fails.
                o.Transports = HttpTransportType.WebSockets;
                o.AccessTokenProvider = new ConnectionToken(options.AccessTokenProvider).GetAsync;
                options.ConfigureConnection?.Invoke(o);
            })
            .WithAutomaticReconnect(_backoff)
            // Messages sent while the socket is down are buffered and resent on both sides, once.
            .WithStatefulReconnect()
            .WithProtocol(options.Protocol)
            .Build();
        On("PresenceChanged", () => PresenceChanged);
        On("CallQueued", () => CallQueued);
        On("CallRinging", () => CallRinging);
        On("IncomingCall", () => IncomingCall);
        On("OfferClosed", () => OfferClosed);
        _connection.On<CallAcceptedEvent>("CallAccepted", OnCallAcceptedAsync);
        On("Signal", () => SignalReceived);
        On("CallConnected", () => CallConnected);
        On("CallTimer", () => CallTimer);
        On("BalanceWarning", () => BalanceWarning);
        On("PeerConnection", () => PeerConnection);
        On("CallEnded", () => CallEnded);
        On("MediaStateChanged", () => MediaStateChanged);
        On("ChatMessageReceived", () => ChatMessageReceived);
        On("WhiteboardOperationReceived", () => WhiteboardOperationReceived);
        On("FileShared", () => FileShared);
        On("LiveCall", () => LiveCall);
        On("PeerRejoined", () => PeerRejoined);
        _connection.Reconnecting += error => SetStateAsync(RealtimeConnectionState.Reconnecting, error);
        _connection.Reconnected += _ => ReconnectedAsync(_backoff.Attempts);
        _connection.Closed += ClosedAsync;
    }

    /// <summary>A teacher's status changed (to the school's admins and that teacher's own connections).</summary>
    public event Func<TeacherPresence, Task>? PresenceChanged;
    /// <summary>To the student: nobody is free yet; the request is queued.</summary>
    public event Func<CallQueuedEvent, Task>? CallQueued;
    /// <summary>To the student: teachers are being rung.</summary>
    public event Func<CallRingingEvent, Task>? CallRinging;
    /// <summary>To a teacher: an offer to take a call.</summary>
    public event Func<IncomingCallEvent, Task>? IncomingCall;
    /// <summary>To a teacher: an offer timed out or was revoked.</summary>
    public event Func<OfferClosedEvent, Task>? OfferClosed;
    /// <summary>
    /// To both sides: a teacher accepted; negotiate media now. Raised once per call on each side: the
    /// accepting teacher gets the platform's event and <see cref="AcceptOfferAsync"/>'s answer, and
    /// whichever arrives first is raised (not the answer of <see cref="RejoinCallAsync"/>).
    /// </summary>
    public event Func<CallAcceptedEvent, Task>? CallAccepted;
    /// <summary>A WebRTC signal from the other participant, in the order it was sent.</summary>
    public event Func<SignalEvent, Task>? SignalReceived;
    /// <summary>To both: both sides confirmed media flowing both ways (<see cref="ConfirmMediaAsync"/>) for the first time; metering started.</summary>
    public event Func<CallConnectedEvent, Task>? CallConnected;
    /// <summary>
    /// To both, every 30 s while connected and at once when billing pauses or resumes: elapsed and
    /// remaining time (a clock on screen counts on between two; the TypeScript SDK does it for you).
    /// </summary>
    public event Func<CallTimerEvent, Task>? CallTimer;
    /// <summary>To the student: few minutes left.</summary>
    public event Func<BalanceWarningEvent, Task>? BalanceWarning;
    /// <summary>
    /// To both: billing paused because a side's media confirmations lapsed (<c>Connected</c> false:
    /// show "reconnecting…"; the call ends <c>connection_lost</c> at <c>GraceEndsAt</c> unless media is
    /// confirmed again), or two-way media is confirmed again (<c>Connected</c> true: "back").
    /// </summary>
    public event Func<PeerConnectionEvent, Task>? PeerConnection;
    /// <summary>To both: the call ended, with its summary.</summary>
    public event Func<CallEndedEvent, Task>? CallEnded;
    /// <summary>A participant's media state changed (the peer's, or this user's from another tab).</summary>
    public event Func<MediaStateChangedEvent, Task>? MediaStateChanged;
    /// <summary>A chat message of a call (own messages too).</summary>
    public event Func<ChatMessage, Task>? ChatMessageReceived;
    /// <summary>A whiteboard operation of a call (own operations too).</summary>
    public event Func<WhiteboardOperation, Task>? WhiteboardOperationReceived;
    /// <summary>A file was shared in a call.</summary>
    public event Func<CallFile, Task>? FileShared;
    /// <summary>
    /// Right after a connection opens (the first, or a new one after the platform restarted or a
    /// reload), when this user has a live (accepted or connected) call: rejoin it with
    /// <see cref="RejoinCallAsync"/>, start a new peer connection, and confirm media again.
    /// </summary>
    public event Func<LiveCallEvent, Task>? LiveCall;
    /// <summary>
    /// The other participant rejoined the call (a reload, a new tab, another node): its old peer
    /// connection is dead; start a new one (the impolite side, the student, offers once its local media is attached).
    /// </summary>
    public event Func<PeerRejoinedEvent, Task>? PeerRejoined;
    /// <summary>The connection state changed.</summary>
    public event Func<ConnectionStateChangedEvent, Task>? ConnectionStateChanged;
    /// <summary>The connection is back after it was lost; catch up with <see cref="GetRoomStateAsync"/>.</summary>
    public event Func<ReconnectedEvent, Task>? Reconnected;

    /// <summary>The connection's state; changes raise <see cref="ConnectionStateChanged"/>.</summary>
    public RealtimeConnectionState ConnectionState => _state;

    /// <summary>
    /// The platform's clock as this client estimates it: the local clock plus the offset learned from
    /// the latest <c>serverTime</c> the platform sent (<see cref="CallAcceptedEvent"/>,
    /// <see cref="RejoinCallAsync"/>, <see cref="MediaConfirmationResult"/>), corrected by half the
    /// round trip when it came as an answer. <see cref="MediaConfirmation.SampledAt"/> is stamped with it.
    /// </summary>
    public DateTimeOffset ServerNow => DateTimeOffset.UtcNow + ServerClockOffset;

    /// <summary>How far the platform's clock is ahead of the local one (negative when behind); zero until the platform sent its time.</summary>
    public TimeSpan ServerClockOffset => TimeSpan.FromTicks(Interlocked.Read(ref _serverClockOffsetTicks));

    /// <summary>
    /// Connects. Throws <see cref="CallernRealtimeException"/> when the first connection fails: code
    /// <c>origin_not_allowed</c> when the platform refused the connection's <c>Origin</c> (the school
    /// does not list it), <c>not_connected</c> when the platform could not be reached. Later losses are retried.
    /// </summary>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _stopped = false;
            if (_stopping.IsCancellationRequested)
            {
                _stopping = new CancellationTokenSource();
            }
        }
        await SetStateAsync(RealtimeConnectionState.Connecting, null);
        try
        {
            await _connection.StartAsync(cancellationToken);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _stopped = true;
            await SetStateAsync(RealtimeConnectionState.Disconnected, error);
            throw OriginRefused(error)
                ? new CallernRealtimeException(CallernApiException.OriginNotAllowed, $"The platform refused this origin: {error.Message}", error)
                : new CallernRealtimeException("not_connected", $"Could not connect to the hub: {error.Message}", error);
        }
        await SetStateAsync(RealtimeConnectionState.Connected, null);
    }

    /// <summary>Disconnects and stops reconnecting; commands waiting for the connection fail with <c>not_connected</c>.</summary>
    /// <param name="cancellationToken">Cancels the graceful close.</param>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _stopped = true;
            _stopping.Cancel();
        }
        await _connection.StopAsync(cancellationToken);
        await SetStateAsync(RealtimeConnectionState.Disconnected, null);
    }

    /// <summary>A teacher sets their own availability; returns the presence the school's admins now see.</summary>
    /// <param name="status">Available, away or offline.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<TeacherPresence> SetAvailabilityAsync(PresenceStatus status, CancellationToken cancellationToken = default) =>
        InvokeAsync<TeacherPresence>("SetAvailability", [status], cancellationToken);

    /// <summary>A student asks for a teacher; returns the call (queued or ringing). <see cref="CallRinging"/> or <see cref="CallQueued"/> follows, then <see cref="CallAccepted"/>.</summary>
    /// <param name="request">Language, level and preferences; language and level default to the student's profile.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<Call> RequestCallAsync(CallRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync<Call>("RequestCall", [request], cancellationToken);

    /// <summary>Withdraws a request or hangs up a call; returns the call as ended (idempotent).</summary>
    /// <param name="callId">The call.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<Call> EndCallAsync(Guid callId, CancellationToken cancellationToken = default) =>
        InvokeAsync<Call>("EndCall", [callId], cancellationToken);

    /// <summary>
    /// A teacher accepts an offer from <see cref="IncomingCall"/>; returns the peer, ICE servers and
    /// negotiation role, and raises <see cref="CallAccepted"/> unless the platform's event came first (once either way).
    /// </summary>
    /// <param name="offerId">The offer.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public async Task<CallAcceptedEvent> AcceptOfferAsync(Guid offerId, CancellationToken cancellationToken = default)
    {
        var (accepted, sentAt, answeredAt) = await TimedInvokeAsync<CallAcceptedEvent>("AcceptOffer", [offerId], cancellationToken);
        LearnServerTime(accepted.ServerTime, sentAt, answeredAt);
        if (_accepted.FirstTime(accepted.CallId))
        {
            await RaiseAsync(CallAccepted, accepted);
        }
        return accepted;
    }

    /// <summary>
    /// Joins a live call again after a reload, a new tab, or a new connection (see <see cref="LiveCall"/>):
    /// returns fresh ICE servers, the peer, this side's negotiation role, the call's state and the
    /// platform's time; the peer gets <see cref="PeerRejoined"/>. Start a new peer connection, catch up
    /// with <see cref="GetRoomStateAsync"/>, and confirm media again. Throws <c>call_ended</c> when
    /// the call ended meanwhile (close the call view), <c>call_not_found</c> when there is no such call for this user.
    /// </summary>
    /// <remarks>
    /// Asking again while a rejoin of the same call is under way (from <see cref="LiveCall"/> and
    /// from <c>GET /v1/me/calls/live</c> at start) shares it: the peer is told once, so its new peer
    /// connection is not replaced again under the first offer. Start one peer connection.
    /// </remarks>
    /// <param name="callId">The call, from <see cref="LiveCall"/> or <c>GET /v1/me/calls/live</c>.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<CallAcceptedEvent> RejoinCallAsync(Guid callId, CancellationToken cancellationToken = default) =>
        _rejoining.GetOrAdd(callId, id => new Lazy<Task<CallAcceptedEvent>>(() => RejoinOnceAsync(id))).Value.WaitAsync(cancellationToken);

    private async Task<CallAcceptedEvent> RejoinOnceAsync(Guid callId)
    {
        try
        {
            var (rejoined, sentAt, answeredAt) = await TimedInvokeAsync<CallAcceptedEvent>("RejoinCall", [callId], CancellationToken.None);
            LearnServerTime(rejoined.ServerTime, sentAt, answeredAt);
            _accepted.FirstTime(callId);
            return rejoined;
        }
        finally
        {
            _rejoining.TryRemove(callId, out _);
        }
    }

    /// <summary>A teacher declines an offer; the platform rings the next teacher.</summary>
    /// <param name="offerId">The offer.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task DeclineOfferAsync(Guid offerId, CancellationToken cancellationToken = default) =>
        InvokeAsync<object?>("DeclineOffer", [offerId], cancellationToken);

    /// <summary>Sends a WebRTC signal to the other participant of the call (and to nobody else).</summary>
    /// <param name="callId">The call.</param>
    /// <param name="signal">The signal.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task SendSignalAsync(Guid callId, SignalMessage signal, CancellationToken cancellationToken = default) =>
        InvokeAsync<object?>("SendSignal", [callId, signal], cancellationToken);

    /// <summary>
    /// Confirms, for billing, the inbound media bytes this side has received in the call so far (the
    /// sum of <c>bytesReceived</c> over the peer connection's inbound-rtp stats, audio and video;
    /// a smaller value than before means a new peer connection). A second is billed only when both
    /// sides' confirmations cover it, so send one every <see cref="MediaConfirmer.Interval"/>;
    /// <see cref="StartMediaConfirmations"/> does that for you. Stamp <c>SampledAt</c> with
    /// <see cref="ServerNow"/>; the answer's server time refines it. Refusals (<see cref="CallernRealtimeException.Code"/>):
    /// <c>call_not_found</c>, <c>call_ended</c>, <c>invalid_state</c> (not accepted yet),
    /// <c>confirmation_in_future</c>, <c>confirmation_stale</c> (more than 9 s old, for example
    /// buffered during a reconnect: not counted, drop it), <c>confirmation_too_fast</c> (under 2 s
    /// after the previous one), <c>invalid_argument</c>; none changes anything.
    /// </summary>
    /// <param name="callId">The call.</param>
    /// <param name="confirmation">When the counter was sampled (the platform's clock) and its value.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public async Task<MediaConfirmationResult> ConfirmMediaAsync(Guid callId, MediaConfirmation confirmation, CancellationToken cancellationToken = default)
    {
        var (result, sentAt, answeredAt) = await TimedInvokeAsync<MediaConfirmationResult>("ConfirmMedia", [callId, confirmation], cancellationToken);
        LearnServerTime(result.ServerTime, sentAt, answeredAt);
        return result;
    }

    /// <summary>
    /// Confirms media for <paramref name="callId"/> every <see cref="MediaConfirmer.Interval"/> from
    /// <paramref name="inboundBytes"/> until the call ends or the returned confirmer is disposed.
    /// For an app with its own media stack (this SDK has no WebRTC): pass a function that reads its
    /// inbound media byte counter.
    /// </summary>
    /// <param name="callId">The accepted call.</param>
    /// <param name="inboundBytes">Returns the inbound media bytes received so far (audio and video); called on a timer thread.</param>
    public MediaConfirmer StartMediaConfirmations(Guid callId, Func<long> inboundBytes) => MediaConfirmer.Start(this, callId, inboundBytes);

    /// <summary>Fresh ICE servers (TURN credentials) for an ICE restart.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<IceServersResponse> RefreshIceServersAsync(Guid callId, CancellationToken cancellationToken = default) =>
        InvokeAsync<IceServersResponse>("RefreshIceServers", [callId], cancellationToken);

    /// <summary>Publishes this participant's media state; returns it as relayed to the peer.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="state">Microphone, camera, screen share.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<MediaStateChangedEvent> UpdateMediaStateAsync(Guid callId, MediaState state, CancellationToken cancellationToken = default) =>
        InvokeAsync<MediaStateChangedEvent>("UpdateMediaState", [callId, state], cancellationToken);

    /// <summary>Sends a connection-quality sample.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="stats">The sample.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task ReportStatsAsync(Guid callId, CallStatsSample stats, CancellationToken cancellationToken = default) =>
        InvokeAsync<object?>("ReportStats", [callId, stats], cancellationToken);

    /// <summary>Sends a chat message (1–2000 characters after trimming); returns it as stored.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="text">The text.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<ChatMessage> SendChatMessageAsync(Guid callId, string text, CancellationToken cancellationToken = default) =>
        InvokeAsync<ChatMessage>("SendChatMessage", [callId, text], cancellationToken);

    /// <summary>Draws on the call's whiteboard; returns the operation as stored.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="operation">The operation.</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<WhiteboardOperation> SendWhiteboardOperationAsync(Guid callId, WhiteboardOperationInput operation, CancellationToken cancellationToken = default) =>
        InvokeAsync<WhiteboardOperation>("SendWhiteboardOperation", [callId, operation], cancellationToken);

    /// <summary>The room's media states and files, and the chat and whiteboard after the given seqs: the catch-up after a reconnect.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="afterChatSeq">The last chat seq already seen (0 for all).</param>
    /// <param name="afterWhiteboardSeq">The last whiteboard seq already seen (0 for all).</param>
    /// <param name="cancellationToken">Cancels waiting for the answer.</param>
    public Task<RoomState> GetRoomStateAsync(Guid callId, long afterChatSeq = 0, long afterWhiteboardSeq = 0, CancellationToken cancellationToken = default) =>
        InvokeAsync<RoomState>("GetRoomState", [callId, afterChatSeq, afterWhiteboardSeq], cancellationToken);

    /// <summary>Stops the connection and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _connection.DisposeAsync();
        _stopping.Dispose();
    }

    /// <summary>An invocation with the local times it was sent and answered, to place the server's time in between.</summary>
    private async Task<(T Answer, DateTimeOffset SentAt, DateTimeOffset AnsweredAt)> TimedInvokeAsync<T>(string method, object?[] args, CancellationToken cancellationToken)
    {
        await WhenConnectedAsync(cancellationToken);
        var sentAt = DateTimeOffset.UtcNow;
        var answer = await InvokeAsync<T>(method, args, cancellationToken);
        return (answer, sentAt, DateTimeOffset.UtcNow);
    }

    /// <summary>The server stamped its time somewhere in the round trip: take the middle.</summary>
    private void LearnServerTime(DateTimeOffset serverTime, DateTimeOffset sentAt, DateTimeOffset answeredAt)
    {
        if (serverTime == default)
        {
            return;
        }
        var localMiddle = sentAt + (answeredAt - sentAt) / 2;
        Interlocked.Exchange(ref _serverClockOffsetTicks, (serverTime - localMiddle).Ticks);
    }

    private async Task OnCallAcceptedAsync(CallAcceptedEvent accepted)
    {
        // An event arrives a one-way trip after the server stamped it: the estimate errs late by that.
        LearnServerTime(accepted.ServerTime, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        if (_accepted.FirstTime(accepted.CallId))
        {
            await RaiseAsync(CallAccepted, accepted);
        }
    }

    private async Task<T> InvokeAsync<T>(string method, object?[] args, CancellationToken cancellationToken)
    {
        await WhenConnectedAsync(cancellationToken);
        try
        {
            return await _connection.InvokeCoreAsync<T>(method, args, cancellationToken);
        }
        catch (HubException error)
        {
            var match = HubErrorCode().Match(error.Message);
            throw match.Success
                ? new CallernRealtimeException(match.Groups[1].Value, match.Groups[2].Value, error)
                : new CallernRealtimeException(ConnectionLost(error) ? "not_connected" : "unknown", $"{method} failed: {error.Message}", error);
        }
        catch (Exception error) when (error is InvalidOperationException or IOException
            || (error is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new CallernRealtimeException("not_connected", $"{method} failed: the connection was lost.", error);
        }
    }

    /// <summary>The hub answers 403 only to a browser origin the caller's school does not list.</summary>
    private static bool OriginRefused(Exception error) =>
        error is HttpRequestException { StatusCode: System.Net.HttpStatusCode.Forbidden }
        || (error.InnerException is { } inner && OriginRefused(inner));

    /// <summary>
    /// Whether an invocation failed because the connection went away: the client fails pending
    /// invocations with the server's close error, possibly before its own state has changed.
    /// </summary>
    private bool ConnectionLost(HubException error) =>
        _connection.State != HubConnectionState.Connected || error.Message.StartsWith("The server closed the connection", StringComparison.Ordinal);

    private async Task WhenConnectedAsync(CancellationToken cancellationToken)
    {
        Task connected;
        CancellationToken stopping;
        lock (_gate)
        {
            if (_state == RealtimeConnectionState.Connected)
            {
                return;
            }
            if (_stopped)
            {
                throw new CallernRealtimeException("not_connected", "Call StartAsync first.");
            }
            connected = _connected.Task;
            stopping = _stopping.Token;
        }
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        try
        {
            await connected.WaitAsync(either.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new CallernRealtimeException("not_connected", "The client was stopped.");
        }
    }

    /// <summary>
    /// Automatic reconnect ends here only when the platform closed the connection without allowing a
    /// reconnect (an expired token, an oversized message): start a new connection with the same backoff.
    /// </summary>
    private async Task ClosedAsync(Exception? error)
    {
        CancellationToken stopping;
        lock (_gate)
        {
            stopping = _stopping.Token;
        }
        if (_stopped)
        {
            await SetStateAsync(RealtimeConnectionState.Disconnected, error);
            return;
        }
        await SetStateAsync(RealtimeConnectionState.Reconnecting, error);
        for (var attempt = 0; !stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                await Task.Delay(_backoff.Delay(attempt), stopping);
                await _connection.StartAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (!stopping.IsCancellationRequested)
            {
                continue;
            }
            await ReconnectedAsync(attempt + 1);
            return;
        }
    }

    private async Task ReconnectedAsync(int attempts)
    {
        await SetStateAsync(RealtimeConnectionState.Connected, null);
        await RaiseAsync(Reconnected, new ReconnectedEvent(attempts));
    }

    private async Task SetStateAsync(RealtimeConnectionState state, Exception? error)
    {
        lock (_gate)
        {
            if (_state == state)
            {
                return;
            }
            _state = state;
            if (state == RealtimeConnectionState.Connected)
            {
                _connected.TrySetResult();
            }
            else if (_connected.Task.IsCompleted)
            {
                _connected = NewWaiter();
            }
        }
        await RaiseAsync(ConnectionStateChanged, new ConnectionStateChangedEvent(state, error));
    }

    private void On<T>(string method, Func<Func<T, Task>?> handlers) => _connection.On<T>(method, e => RaiseAsync(handlers(), e));

    private static async Task RaiseAsync<T>(Func<T, Task>? handlers, T e)
    {
        if (handlers is null)
        {
            return;
        }
        foreach (var handler in handlers.GetInvocationList().Cast<Func<T, Task>>())
        {
            await handler(e);
        }
    }

    private static TaskCompletionSource NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [GeneratedRegex(@"HubException: ([a-z_]+): (.*)$", RegexOptions.Singleline)]
    private static partial Regex HubErrorCode();

    /// <summary>The calls whose CallAccepted was raised already: the last few, enough for one user's calls in flight.</summary>
    private sealed class AcceptedCalls
    {
        private const int Capacity = 32;
        private readonly Queue<Guid> _order = new();
        private readonly HashSet<Guid> _seen = [];

        public bool FirstTime(Guid callId)
        {
            lock (_seen)
            {
                if (!_seen.Add(callId))
                {
                    return false;
                }
                _order.Enqueue(callId);
                if (_order.Count > Capacity)
                {
                    _seen.Remove(_order.Dequeue());
                }
                return true;
            }
        }
    }

    /// <summary>The reconnect backoff: the configured delays, the last one forever.</summary>
    private sealed class Backoff(IReadOnlyList<TimeSpan> delays) : IRetryPolicy
    {
        public int Attempts { get; private set; }

        public TimeSpan Delay(int attempt) => delays[Math.Min(attempt, delays.Count - 1)];

        public TimeSpan? NextRetryDelay(RetryContext retryContext)
        {
            Attempts = (int)retryContext.PreviousRetryCount + 1;
            return Delay((int)retryContext.PreviousRetryCount);
        }
    }
}
