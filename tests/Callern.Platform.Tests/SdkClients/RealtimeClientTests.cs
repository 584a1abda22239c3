using System.Text.Json;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Callern.Sdk.Realtime;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>The C# SDK's realtime client against the platform on a real socket, as a school's app uses it.</summary>
public sealed class RealtimeClientTests(KestrelCallernApp app) : IClassFixture<KestrelCallernApp>
{
    private CallernRealtimeClient Client(TestTenant tenant, string userId, string role, Action? onToken = null, IReadOnlyList<TimeSpan>? delays = null,
        RealtimeProtocol protocol = RealtimeProtocol.Json) =>
        new(new CallernRealtimeOptions
        {
            Protocol = protocol,
            BaseUrl = app.BaseUrl,
            AccessTokenProvider = _ =>
            {
                onToken?.Invoke();
                return ValueTask.FromResult(app.Token(tenant, userId, role));
            },
            ReconnectDelays = delays ?? CallernRealtimeOptions.DefaultReconnectDelays,
        });

    [Theory]
    [InlineData(RealtimeProtocol.Json, RealtimeProtocol.Json)]
    [InlineData(RealtimeProtocol.MessagePack, RealtimeProtocol.MessagePack)]
    [InlineData(RealtimeProtocol.Json, RealtimeProtocol.MessagePack)]
    public async Task A_student_and_a_teacher_complete_a_call_through_the_sdk(RealtimeProtocol studentProtocol, RealtimeProtocol teacherProtocol)
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ana", 600);
        await app.TeacherAsync(tenant, "emma");
        await using var teacher = Client(tenant, "emma", CallernRoles.Teacher, protocol: teacherProtocol);
        await using var student = Client(tenant, "ana", CallernRoles.Student, protocol: studentProtocol);
        var incoming = new Recorder<IncomingCallEvent>();
        var ringing = new Recorder<CallRingingEvent>();
        var studentAccepted = new Recorder<CallAcceptedEvent>();
        var teacherAccepted = new Recorder<CallAcceptedEvent>();
        var teacherSignals = new Recorder<SignalEvent>();
        var studentSignals = new Recorder<SignalEvent>();
        var connected = new Recorder<CallConnectedEvent>();
        var ended = new Recorder<CallEndedEvent>();
        teacher.IncomingCall += incoming.Record;
        student.CallRinging += ringing.Record;
        student.CallAccepted += studentAccepted.Record;
        teacher.CallAccepted += teacherAccepted.Record;
        teacher.SignalReceived += teacherSignals.Record;
        student.SignalReceived += studentSignals.Record;
        student.CallConnected += connected.Record;
        teacher.CallConnected += connected.Record;
        student.CallEnded += ended.Record;
        teacher.CallEnded += ended.Record;
        await teacher.StartAsync();
        await student.StartAsync();
        Assert.Equal(RealtimeConnectionState.Connected, student.ConnectionState);

        var presence = await teacher.SetAvailabilityAsync(PresenceStatus.Available);
        Assert.Equal((PresenceStatus.Available, true), (presence.Status, presence.Connected));
        var call = await student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        Assert.Equal(CallState.Ringing, call.State);
        Assert.Equal(1, (await ringing.NextAsync()).TeachersRinging);
        var offer = await incoming.NextAsync();
        Assert.Equal((call.Id, "ana", "Student ana"), (offer.CallId, offer.Student.Id, offer.Student.DisplayName));

        var accepted = await teacher.AcceptOfferAsync(offer.OfferId);
        var studentSide = await studentAccepted.NextAsync();
        Assert.Equal((true, "ana"), (accepted.Polite, accepted.Peer.Id));
        Assert.Equal((false, "emma"), (studentSide.Polite, studentSide.Peer.Id));
        Assert.Equal(accepted.IceServers.Ttl, studentSide.IceServers.Ttl);

        await student.SendSignalAsync(call.Id, new SignalMessage { Type = "offer", Payload = "v=0 offer" });
        await student.SendSignalAsync(call.Id, new SignalMessage { Type = "candidate", Payload = "{\"candidate\":\"c1\"}" });
        await teacher.SendSignalAsync(call.Id, new SignalMessage { Type = "answer", Payload = "v=0 answer" });
        var offerSignal = await teacherSignals.NextAsync();
        var candidateSignal = await teacherSignals.NextAsync();
        var answerSignal = await studentSignals.NextAsync();
        Assert.Equal((call.Id, "ana", "offer", "v=0 offer"), (offerSignal.CallId, offerSignal.From, offerSignal.Signal.Type, offerSignal.Signal.Payload));
        Assert.Equal("candidate", candidateSignal.Signal.Type);
        Assert.Equal((call.Id, "emma", "answer", "v=0 answer"), (answerSignal.CallId, answerSignal.From, answerSignal.Signal.Type, answerSignal.Signal.Payload));
        Assert.True((await teacher.RefreshIceServersAsync(call.Id)).ExpiresAt > DateTimeOffset.UtcNow);

        // The teacher got the call as AcceptOffer's answer and as the platform's event: raised once.
        Assert.Equal(call.Id, (await teacherAccepted.NextAsync()).CallId);
        Assert.Equal(0, teacherAccepted.Pending);
        Assert.Equal((call.Id, CallState.Accepted), (studentSide.CallId, studentSide.State));

        // Each side confirms its inbound media twice, 2 s apart on the platform's (fake) clock, the bytes growing.
        var first = app.Clock.GetUtcNow();
        await student.ConfirmMediaAsync(call.Id, new MediaConfirmation { SampledAt = first, InboundBytes = 1_000 });
        await teacher.ConfirmMediaAsync(call.Id, new MediaConfirmation { SampledAt = first, InboundBytes = 1_000 });
        app.Clock.Advance(TimeSpan.FromSeconds(2));
        var second = app.Clock.GetUtcNow();
        await student.ConfirmMediaAsync(call.Id, new MediaConfirmation { SampledAt = second, InboundBytes = 300_000 });
        var both = await teacher.ConfirmMediaAsync(call.Id, new MediaConfirmation { SampledAt = second, InboundBytes = 300_000 });
        Assert.Equal((second, true, true), (both.ServerTime, both.MediaFlowing, both.Billing));
        Assert.Equal(call.Id, (await connected.NextAsync()).CallId);
        Assert.Equal(call.Id, (await connected.NextAsync()).CallId);
        Assert.Equal(0, teacherAccepted.Pending);

        var summary = await teacher.EndCallAsync(call.Id);
        Assert.Equal((CallState.Ended, "completed"), (summary.State, summary.EndReason));
        var endings = new[] { await ended.NextAsync(), await ended.NextAsync() };
        Assert.All(endings, e => Assert.Equal((call.Id, "completed"), (e.CallId, e.Reason)));
    }

    [Theory]
    [InlineData(RealtimeProtocol.Json, RealtimeProtocol.Json)]
    [InlineData(RealtimeProtocol.MessagePack, RealtimeProtocol.MessagePack)]
    [InlineData(RealtimeProtocol.Json, RealtimeProtocol.MessagePack)]
    public async Task The_classroom_commands_reach_the_peer_and_the_room_state_catches_up(RealtimeProtocol studentProtocol, RealtimeProtocol teacherProtocol)
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "mia", 600);
        await app.TeacherAsync(tenant, "tom");
        await using var teacher = Client(tenant, "tom", CallernRoles.Teacher, protocol: teacherProtocol);
        await using var student = Client(tenant, "mia", CallernRoles.Student, protocol: studentProtocol);
        var incoming = new Recorder<IncomingCallEvent>();
        var media = new Recorder<MediaStateChangedEvent>();
        var chat = new Recorder<ChatMessage>();
        var board = new Recorder<WhiteboardOperation>();
        teacher.IncomingCall += incoming.Record;
        teacher.MediaStateChanged += media.Record;
        teacher.ChatMessageReceived += chat.Record;
        student.WhiteboardOperationReceived += board.Record;
        await teacher.StartAsync();
        await student.StartAsync();
        await teacher.SetAvailabilityAsync(PresenceStatus.Available);
        var call = await student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        await teacher.AcceptOfferAsync((await incoming.NextAsync()).OfferId);

        var state = new MediaState { Microphone = false, Camera = true, ScreenShare = true, ScreenTrackId = "screen-track-1" };
        var answered = await student.UpdateMediaStateAsync(call.Id, state);
        var relayedState = await media.NextAsync();
        Assert.Equal((call.Id, "mia", true, "screen-track-1"), (answered.CallId, answered.UserId, answered.State.ScreenShare, answered.State.ScreenTrackId));
        Assert.Equal((call.Id, "mia", false, true), (relayedState.CallId, relayedState.UserId, relayedState.State.Microphone, relayedState.State.Camera));
        var sent = await student.SendChatMessageAsync(call.Id, "Hello!");
        var received = await chat.NextAsync();
        Assert.Equal((1L, "mia", "Hello!"), (sent.Seq, sent.SenderId, sent.Text));
        Assert.Equal((sent.Seq, sent.Text), (received.Seq, received.Text));
        using var stroke = JsonDocument.Parse("""{"points":[[0.1,0.2],[0.3,0.4]],"color":"#1e88e5","width":2}""");
        var drawn = await teacher.SendWhiteboardOperationAsync(call.Id, new WhiteboardOperationInput { Kind = "stroke", Data = stroke.RootElement });
        var relayed = await board.NextAsync();
        Assert.Equal((1L, "tom", "stroke"), (relayed.Seq, relayed.AuthorId, relayed.Kind));
        Assert.Equal(stroke.RootElement.GetRawText(), ((JsonElement)relayed.Data).GetRawText());
        await student.ReportStatsAsync(call.Id, new CallStatsSample
        {
            RttMs = 42, PacketLossIn = 0.01, JitterMs = 3, BitrateInBps = 800_000, BitrateOutBps = 750_000,
            BytesReceived = 1_000_000, BytesSent = 900_000, LocalCandidateType = "relay", RemoteCandidateType = "host",
        });

        var everything = await teacher.GetRoomStateAsync(call.Id);
        var after = await teacher.GetRoomStateAsync(call.Id, afterChatSeq: sent.Seq, afterWhiteboardSeq: drawn.Seq);

        Assert.Equal(["Hello!"], everything.Messages.Select(m => m.Text));
        Assert.Equal([drawn.Seq], everything.WhiteboardOperations.Select(o => o.Seq));
        Assert.Contains(everything.MediaStates, m => m.UserId == "mia" && m.State.ScreenTrackId == "screen-track-1");
        Assert.Empty(after.Messages);
        Assert.Empty(after.WhiteboardOperations);
        await student.EndCallAsync(call.Id);
    }

    [Fact]
    public async Task A_reloaded_app_hears_of_its_live_call_rejoins_it_and_the_peer_is_told()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "zoe", 600);
        await app.TeacherAsync(tenant, "ian");
        await using var teacher = Client(tenant, "ian", CallernRoles.Teacher);
        await using var student = Client(tenant, "zoe", CallernRoles.Student);
        var incoming = new Recorder<IncomingCallEvent>();
        var peerRejoined = new Recorder<PeerRejoinedEvent>();
        teacher.IncomingCall += incoming.Record;
        teacher.PeerRejoined += peerRejoined.Record;
        await teacher.StartAsync();
        await student.StartAsync();
        await teacher.SetAvailabilityAsync(PresenceStatus.Available);
        var call = await student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        await teacher.AcceptOfferAsync((await incoming.NextAsync()).OfferId);

        // The student's app reloads: a new client of the same user.
        await using var reloaded = Client(tenant, "zoe", CallernRoles.Student);
        var live = new Recorder<LiveCallEvent>();
        var accepted = new Recorder<CallAcceptedEvent>();
        reloaded.LiveCall += live.Record;
        reloaded.CallAccepted += accepted.Record;
        await reloaded.StartAsync();
        var announced = await live.NextAsync();
        // As an app that also asks GET /v1/me/calls/live at start: one rejoin, the peer told once.
        var both = await Task.WhenAll(reloaded.RejoinCallAsync(announced.CallId), reloaded.RejoinCallAsync(announced.CallId));
        var rejoined = both[0];
        var told = await peerRejoined.NextAsync();
        await teacher.RefreshIceServersAsync(call.Id); // a round trip: a second PeerRejoined would be here by now

        Assert.Equal((call.Id, CallState.Accepted), (announced.CallId, announced.State));
        Assert.Equal((call.Id, "ian", false, CallState.Accepted), (rejoined.CallId, rejoined.Peer.Id, rejoined.Polite, rejoined.State));
        Assert.True(rejoined.IceServers.ExpiresAt > DateTimeOffset.UtcNow, "fresh TURN credentials");
        Assert.Equal((call.Id, "zoe"), (told.CallId, told.UserId));
        Assert.Equal(0, accepted.Pending); // a rejoin is not a second CallAccepted
        Assert.Same(both[0], both[1]);
        Assert.Equal(0, peerRejoined.Pending);

        await teacher.EndCallAsync(call.Id);
        var late = await Assert.ThrowsAsync<CallernRealtimeException>(() => reloaded.RejoinCallAsync(call.Id));
        var lateConfirmation = await Assert.ThrowsAsync<CallernRealtimeException>(() =>
            reloaded.ConfirmMediaAsync(call.Id, new MediaConfirmation { SampledAt = app.Clock.GetUtcNow(), InboundBytes = 1 }));
        Assert.Equal(("call_ended", "call_ended"), (late.Code, lateConfirmation.Code));
    }

    [Theory]
    [InlineData(RealtimeProtocol.Json)]
    [InlineData(RealtimeProtocol.MessagePack)]
    public async Task Media_confirmations_that_cannot_count_are_refused_with_their_code(RealtimeProtocol protocol)
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "lea", 600);
        await app.StudentWithSecondsAsync(tenant, "other", 600);
        await app.TeacherAsync(tenant, "max");
        await using var teacher = Client(tenant, "max", CallernRoles.Teacher, protocol: protocol);
        await using var student = Client(tenant, "lea", CallernRoles.Student, protocol: protocol);
        await using var stranger = Client(tenant, "other", CallernRoles.Student, protocol: protocol);
        var incoming = new Recorder<IncomingCallEvent>();
        teacher.IncomingCall += incoming.Record;
        await teacher.StartAsync();
        await student.StartAsync();
        await stranger.StartAsync();
        await teacher.SetAvailabilityAsync(PresenceStatus.Available);
        var call = await student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        MediaConfirmation At(TimeSpan offset, long bytes = 1_000) => new() { SampledAt = app.Clock.GetUtcNow() + offset, InboundBytes = bytes };
        async Task<string> RefusedAsync(CallernRealtimeClient client, Guid callId, MediaConfirmation confirmation) =>
            (await Assert.ThrowsAsync<CallernRealtimeException>(() => client.ConfirmMediaAsync(callId, confirmation))).Code;

        var ringing = await RefusedAsync(student, call.Id, At(TimeSpan.Zero));
        await teacher.AcceptOfferAsync((await incoming.NextAsync()).OfferId);
        var unknown = await RefusedAsync(student, Guid.NewGuid(), At(TimeSpan.Zero));
        var notInIt = await RefusedAsync(stranger, call.Id, At(TimeSpan.Zero));
        var future = await RefusedAsync(student, call.Id, At(TimeSpan.FromSeconds(10)));
        var stale = await RefusedAsync(student, call.Id, At(TimeSpan.FromSeconds(-10)));
        var negative = await RefusedAsync(student, call.Id, At(TimeSpan.Zero, bytes: -1));
        await student.ConfirmMediaAsync(call.Id, At(TimeSpan.Zero));
        var tooFast = await RefusedAsync(student, call.Id, At(TimeSpan.Zero, bytes: 2_000));

        Assert.Equal("invalid_state", ringing);
        Assert.Equal(("call_not_found", "call_not_found"), (unknown, notInIt));
        Assert.Equal(("confirmation_in_future", "confirmation_stale", "invalid_argument"), (future, stale, negative));
        Assert.Equal("confirmation_too_fast", tooFast);
        await student.EndCallAsync(call.Id);
    }

    [Fact]
    public async Task A_signal_sent_while_the_peers_socket_drops_arrives_once_through_the_resumed_connection()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "noa", 600);
        await app.TeacherAsync(tenant, "ray");
        await using var path = FaultProxy.Start(app.BaseUrl.Port);
        await using var teacher = Client(tenant, "ray", CallernRoles.Teacher);
        await using var student = new CallernRealtimeClient(new CallernRealtimeOptions
        {
            BaseUrl = new Uri($"http://127.0.0.1:{path.Port}/"),
            AccessTokenProvider = _ => ValueTask.FromResult(app.Token(tenant, "noa", CallernRoles.Student)),
        });
        var incoming = new Recorder<IncomingCallEvent>();
        var signals = new Recorder<SignalEvent>();
        var reconnected = new Recorder<ReconnectedEvent>();
        var teacherSignals = new Recorder<SignalEvent>();
        teacher.IncomingCall += incoming.Record;
        teacher.SignalReceived += teacherSignals.Record;
        student.SignalReceived += signals.Record;
        student.Reconnected += reconnected.Record;
        await teacher.StartAsync();
        await student.StartAsync();
        await teacher.SetAvailabilityAsync(PresenceStatus.Available);
        var call = await student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" });
        await teacher.AcceptOfferAsync((await incoming.NextAsync()).OfferId);

        // The student's socket is reset (a Wi-Fi hand-over); the network is back at once.
        path.Drop();
        await teacher.SendSignalAsync(call.Id, new SignalMessage { Type = "offer", Payload = "during the drop" });
        await student.SendSignalAsync(call.Id, new SignalMessage { Type = "answer", Payload = "from the resumed connection" });
        await teacher.SendSignalAsync(call.Id, new SignalMessage { Type = "candidate", Payload = "after the drop" });

        Assert.Equal("during the drop", (await signals.NextAsync()).Signal.Payload);
        Assert.Equal("after the drop", (await signals.NextAsync()).Signal.Payload);
        Assert.Equal("from the resumed connection", (await teacherSignals.NextAsync()).Signal.Payload);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        // Resumed by stateful reconnect: the same connection, so no Reconnected, and nothing twice.
        Assert.Equal((0, 0, 0), (signals.Pending, teacherSignals.Pending, reconnected.Pending));
        Assert.True(path.Accepted > 1, "the student's app opened a new socket");
        await teacher.EndCallAsync(call.Id);
    }

    [Fact]
    public async Task Refusals_carry_the_platform_code()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "broke", 0);
        await using var student = Client(tenant, "broke", CallernRoles.Student);
        await student.StartAsync();

        var notTeacher = await Assert.ThrowsAsync<CallernRealtimeException>(() => student.SetAvailabilityAsync(PresenceStatus.Available));
        var noMinutes = await Assert.ThrowsAsync<CallernRealtimeException>(() => student.RequestCallAsync(new CallRequest { Language = "en", Level = "B1" }));
        Assert.Equal(("forbidden", "no_minutes"), (notTeacher.Code, noMinutes.Code));
    }

    [Fact]
    public async Task After_the_platform_drops_the_connection_the_client_reconnects_with_a_fresh_token()
    {
        var tenant = await app.CreateTenantAsync();
        await app.TeacherAsync(tenant, "liam");
        var tokens = 0;
        await using var teacher = Client(tenant, "liam", CallernRoles.Teacher, () => Interlocked.Increment(ref tokens), [TimeSpan.FromMilliseconds(100)]);
        var reconnected = new Recorder<ReconnectedEvent>();
        var states = new List<RealtimeConnectionState>();
        teacher.Reconnected += reconnected.Record;
        teacher.ConnectionStateChanged += e =>
        {
            lock (states)
            {
                states.Add(e.State);
            }
            return Task.CompletedTask;
        };
        await teacher.StartAsync();
        var tokensAtStart = tokens;

        // A message over the hub's size limit makes the platform close this connection.
        var dropped = await Assert.ThrowsAsync<CallernRealtimeException>(() => teacher.RequestCallAsync(new CallRequest { Accent = new string('x', 70_000) }));
        var back = await reconnected.NextAsync();

        Assert.Equal(("not_connected", 1), (dropped.Code, back.Attempts));
        Assert.True(tokens > tokensAtStart, "the token callback runs again on reconnect");
        Assert.Equal(PresenceStatus.Away, (await teacher.SetAvailabilityAsync(PresenceStatus.Away)).Status);
        lock (states)
        {
            Assert.Equal([RealtimeConnectionState.Connecting, RealtimeConnectionState.Connected, RealtimeConnectionState.Reconnecting, RealtimeConnectionState.Connected], states);
        }
    }

    [Fact]
    public async Task Commands_before_start_fail_as_not_connected()
    {
        var tenant = await app.CreateTenantAsync();
        await using var client = Client(tenant, "x", CallernRoles.Student);

        var error = await Assert.ThrowsAsync<CallernRealtimeException>(() => client.EndCallAsync(Guid.NewGuid()));

        Assert.Equal("not_connected", error.Code);
    }

    [Fact]
    public async Task Start_tells_a_refused_origin_from_an_unreachable_platform()
    {
        var tenant = await app.CreateTenantAsync();
        CallernRealtimeClient FromOrigin(Uri baseUrl) => new(new CallernRealtimeOptions
        {
            BaseUrl = baseUrl,
            AccessTokenProvider = _ => ValueTask.FromResult(app.Token(tenant, "ana", CallernRoles.Student)),
            ConfigureConnection = o => o.Headers["Origin"] = "https://school.example",
        });
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var nobody = new Uri($"http://127.0.0.1:{((System.Net.IPEndPoint)listener.LocalEndpoint).Port}");
        listener.Stop(); // nothing listens there now
        await using var refusedClient = FromOrigin(app.BaseUrl);
        await using var unreachableClient = FromOrigin(nobody);

        var refused = await Assert.ThrowsAsync<CallernRealtimeException>(() => refusedClient.StartAsync());
        var unreachable = await Assert.ThrowsAsync<CallernRealtimeException>(() => unreachableClient.StartAsync());
        using var http = new HttpClient { BaseAddress = app.BaseUrl };
        http.DefaultRequestHeaders.Add("Origin", "https://school.example");
        http.DefaultRequestHeaders.Authorization = new("Bearer", app.Token(tenant, "ana", CallernRoles.Student));
        var rest = await Assert.ThrowsAnyAsync<CallernApiException>(() => new CallernClient(http).GetMyWalletAsync());

        Assert.Equal(CallernApiException.OriginNotAllowed, refused.Code);
        Assert.Equal("not_connected", unreachable.Code);
        Assert.Equal(CallernApiException.OriginNotAllowed, rest.Code);
    }
}
