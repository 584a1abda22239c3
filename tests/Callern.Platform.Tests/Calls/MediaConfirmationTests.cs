using Callern.Platform.Calls;
using Callern.Platform.Signaling;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Dapper;
using Microsoft.AspNetCore.SignalR;
using Npgsql;
using Call = Callern.Platform.Calls.Call;
using CallAcceptedEvent = Callern.Platform.Calls.CallAcceptedEvent;
using CallEndedEvent = Callern.Platform.Calls.CallEndedEvent;
using CallRequest = Callern.Platform.Calls.CallRequest;
using CallStatsSample = Callern.Platform.Calls.CallStatsSample;
using CallTimerEvent = Callern.Platform.Calls.CallTimerEvent;
using LiveCallEvent = Callern.Platform.Calls.LiveCallEvent;
using MediaConfirmation = Callern.Platform.Calls.MediaConfirmation;
using PeerConnectionEvent = Callern.Platform.Calls.PeerConnectionEvent;
using PeerRejoinedEvent = Callern.Platform.Calls.PeerRejoinedEvent;

namespace Callern.Platform.Tests.Calls;

/// <summary>Media confirmations over the hub, what they bill, what they refuse, and rejoining a live call.</summary>
public sealed class MediaConfirmationTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Media_that_stops_while_both_hubs_stay_connected_pauses_billing_at_the_last_confirmation_and_resumes_when_it_flows_again()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        await app.AdvanceAsync(TimeSpan.FromSeconds(20));
        // The teacher's peer connection stops receiving (ICE failed, a frozen tab); both hubs stay up.
        teacher.StopMedia();
        await app.AdvanceAsync(TimeSpan.FromSeconds(20));
        var paused = await student.NextAsync<PeerConnectionEvent>("PeerConnection");
        var teacherTold = await teacher.NextAsync<PeerConnectionEvent>("PeerConnection");
        teacher.StartMedia(callId);
        await app.AdvanceAsync(TimeSpan.FromSeconds(10));
        var resumed = await student.NextAsync<PeerConnectionEvent>("PeerConnection");
        var ended = await student.InvokeAsync<Call>(nameof(CallsHub.EndCall), callId);

        Assert.Equal((false, false, true), (paused.Connected, teacherTold.Connected, resumed.Connected));
        // 20 s before media stopped, and 6 s from its return (the first confirmation of the last 10 s, at 44 s) to the end.
        Assert.Equal((EndReasons.Completed, 26L), (ended.EndReason, ended.BilledSeconds));
        var wallet = await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync();
        var earnings = await app.SdkAs(tenant, "t", CallernRoles.Teacher).GetMyEarningsAsync();
        Assert.Equal((600L - 26, 0L, 26L), (wallet.AvailableSeconds, wallet.HeldSeconds, earnings.Seconds));
    }

    [Fact]
    public async Task A_reload_quicker_than_a_lapse_still_leaves_the_moments_without_media_unbilled()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        await app.AdvanceAsync(TimeSpan.FromSeconds(10));
        // The teacher's page reloads: 4 s without a confirmation (less than a lapse), then a new
        // peer connection whose byte counters start from zero.
        await teacher.LeaveAsync();
        await app.AdvanceAsync(TimeSpan.FromSeconds(4));
        await teacher.ReturnAsync();
        teacher.RestartMedia(callId);
        await app.AdvanceAsync(TimeSpan.FromSeconds(6));
        var ended = await student.InvokeAsync<Call>(nameof(CallsHub.EndCall), callId);

        // 10 s before the reload and 2 s from the new connection's first confirmation (at 18 s) to the end.
        Assert.Equal(12, ended.BilledSeconds);
        Assert.Equal(600 - 12, (await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync()).AvailableSeconds);
    }

    [Fact]
    public async Task Bad_confirmations_get_a_coded_hub_error_and_bill_nothing()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        await app.StudentWithSecondsAsync(tenant, "stranger", 600);
        await using var stranger = await CallParty.JoinAsync(app, tenant, "stranger", CallernRoles.Student);
        var callId = await CallTestKit.AcceptedCallAsync(student, teacher);
        var now = app.Clock.GetUtcNow();

        var notInCall = await ConfirmAsync(stranger, callId, new MediaConfirmation(now, 1000));
        var unknown = await ConfirmAsync(student, Guid.NewGuid(), new MediaConfirmation(now, 1000));
        var future = await ConfirmAsync(student, callId, new MediaConfirmation(now.AddSeconds(10), 1000));
        var stale = await ConfirmAsync(student, callId, new MediaConfirmation(now.AddSeconds(-30), 1000));
        var negative = await ConfirmAsync(student, callId, new MediaConfirmation(now, -1));
        // Nonsense stats refuse the whole confirmation: nothing is recorded (the next one is not "too fast").
        var badStats = await ConfirmAsync(student, callId, new MediaConfirmation(now, 1000, Stats with { BitrateInBps = -1 }));
        await student.InvokeAsync<Platform.Calls.MediaConfirmationResult>(nameof(CallsHub.ConfirmMedia), callId, new MediaConfirmation(now, 1000));
        var tooFast = await ConfirmAsync(student, callId, new MediaConfirmation(now, 2000));
        // The teacher's own confirmation at the same moment is the first of theirs: it counts, and the call connects.
        await teacher.InvokeAsync<Platform.Calls.MediaConfirmationResult>(nameof(CallsHub.ConfirmMedia), callId, new MediaConfirmation(now, 1000));
        await student.InvokeAsync<Call>(nameof(CallsHub.EndCall), callId);
        var afterEnd = await ConfirmAsync(teacher, callId, new MediaConfirmation(app.Clock.GetUtcNow(), 9000));

        Assert.Contains("call_not_found", notInCall);
        Assert.Contains("call_not_found", unknown);
        Assert.Contains("confirmation_in_future", future);
        Assert.Contains("confirmation_stale", stale);
        Assert.Contains("invalid_argument", negative);
        Assert.Contains("invalid_argument", badStats);
        Assert.Contains("confirmation_too_fast", tooFast);
        Assert.Contains("call_ended", afterEnd);
        var summary = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetCallAsync(callId);
        Assert.Equal(0, summary.BilledSeconds);
        Assert.Equal(600, (await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync()).AvailableSeconds);
    }

    [Fact]
    public async Task Confirmations_sent_without_waiting_for_an_answer_bill_the_same_and_a_bad_one_changes_nothing()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        student.ConfirmsWithoutAnswers = teacher.ConfirmsWithoutAnswers = true;

        await app.AdvanceAsync(TimeSpan.FromSeconds(20));
        // Refused in silence (no answer is asked for): sampled a minute ahead, and a count that would start a new run.
        await student.Connection.SendCoreAsync(nameof(CallsHub.ConfirmMedia), [callId, new MediaConfirmation(app.Clock.GetUtcNow().AddMinutes(1), 1)]);
        await student.Connection.SendCoreAsync(nameof(CallsHub.ConfirmMedia), [callId, new MediaConfirmation(app.Clock.GetUtcNow(), -1)]);
        await app.AdvanceAsync(TimeSpan.FromSeconds(8));
        var ended = await student.InvokeAsync<Call>(nameof(CallsHub.EndCall), callId);

        Assert.Equal((EndReasons.Completed, 28L), (ended.EndReason, ended.BilledSeconds));
        Assert.False(student.Has("PeerConnection")); // billing never paused
        var wallet = await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((600L - 28, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
    }

    [Fact]
    public async Task A_call_that_is_still_ringing_cannot_be_confirmed()
    {
        await using var pair = await app.PairAsync(600);
        var call = await pair.Student.InvokeAsync<Call>(nameof(CallsHub.RequestCall), new CallRequest("en", "B1", null, null, null));

        var ringing = await ConfirmAsync(pair.Student, call.Id, new MediaConfirmation(app.Clock.GetUtcNow(), 1000));

        Assert.Contains("invalid_state", ringing);
    }

    [Fact]
    public async Task A_participant_who_reloads_finds_the_live_call_and_rejoins_it_and_the_peer_is_told()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await app.AdvanceAsync(TimeSpan.FromSeconds(10));

        // A reload: a new hub connection, nothing remembered.
        await teacher.ReturnAsync();
        var announced = await teacher.NextAsync<LiveCallEvent>("LiveCall");
        var live = await app.SdkAs(tenant, "t", CallernRoles.Teacher).GetMyLiveCallAsync();
        var rejoined = await teacher.InvokeAsync<CallAcceptedEvent>(nameof(CallsHub.RejoinCall), callId);
        var told = await student.NextAsync<PeerRejoinedEvent>("PeerRejoined");

        Assert.Equal((callId, Platform.Calls.CallState.Connected), (announced.CallId, announced.State));
        Assert.Equal(callId, live.Call!.Id);
        Assert.Equal((callId, "s", true, Platform.Calls.CallState.Connected), (rejoined.CallId, rejoined.Peer.Id, rejoined.Polite, rejoined.State));
        Assert.True(rejoined.IceServers.Ttl > 0);
        Assert.Equal((callId, "t"), (told.CallId, told.UserId));
        Assert.Null((await app.SdkAs(tenant, "stranger", CallernRoles.Student).GetMyLiveCallAsync()).Call);

        // Media flows again on the new peer connection: billing never stopped for longer than a confirmation gap.
        await app.AdvanceAsync(TimeSpan.FromSeconds(10));
        var timer = await student.NextAsync<CallTimerEvent>("CallTimer");
        await student.InvokeAsync<Call>(nameof(CallsHub.EndCall), callId);
        await teacher.NextAsync<CallEndedEvent>("CallEnded");
        var afterEnd = await Assert.ThrowsAsync<HubException>(() => teacher.InvokeAsync<CallAcceptedEvent>(nameof(CallsHub.RejoinCall), callId));
        Assert.Contains("call_ended", afterEnd.Message);
        Assert.Null((await app.SdkAs(tenant, "t", CallernRoles.Teacher).GetMyLiveCallAsync()).Call);
        Assert.False(timer.Paused);
    }

    [Fact]
    public async Task A_confirmation_carries_its_sides_stats_and_the_node_writes_the_latest_within_a_heartbeat()
    {
        await using var pair = await app.PairAsync(600);
        var (_, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        app.Clock.Advance(MediaConfirmationRules.MinSpacing);

        var result = await student.InvokeAsync<Platform.Calls.MediaConfirmationResult>(
            nameof(CallsHub.ConfirmMedia), callId, new MediaConfirmation(app.Clock.GetUtcNow(), 50_000_000, Stats));
        await app.AdvanceAsync(TimeSpan.FromSeconds(16)); // past a heartbeat: the node writes its samples

        Assert.True(result.MediaFlowing);
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        double? rtt;
        while ((rtt = await connection.ExecuteScalarAsync<double?>(
            "SELECT (stats->>'rttMs')::float8 FROM call_participant_media WHERE call_id = @callId AND user_id = 's'", new { callId })) is null
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        Assert.Equal(Stats.RttMs, rtt);
    }

    private static readonly CallStatsSample Stats = new(42.5, 0.01, 0.02, 3.2, 1_200_000, 900_000, 50_000_000, 40_000_000, "relay", "relay");

    private static async Task<string> ConfirmAsync(CallParty party, Guid callId, MediaConfirmation confirmation) =>
        (await Assert.ThrowsAsync<HubException>(() =>
            party.InvokeAsync<Platform.Calls.MediaConfirmationResult>(nameof(CallsHub.ConfirmMedia), callId, confirmation))).Message;
}
