using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
using BalanceWarningEvent = Callern.Platform.Calls.BalanceWarningEvent;
using Call = Callern.Platform.Calls.Call;
using CallAcceptedEvent = Callern.Platform.Calls.CallAcceptedEvent;
using CallEndedEvent = Callern.Platform.Calls.CallEndedEvent;
using CallRequest = Callern.Platform.Calls.CallRequest;
using CallTimerEvent = Callern.Platform.Calls.CallTimerEvent;
using IncomingCallEvent = Callern.Platform.Calls.IncomingCallEvent;
using PeerConnectionEvent = Callern.Platform.Calls.PeerConnectionEvent;
using SignalEvent = Callern.Platform.Calls.SignalEvent;
using SignalMessage = Callern.Platform.Calls.SignalMessage;

namespace Callern.Platform.Tests.Calls;

public sealed class MeteringTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Media_that_never_connects_ends_the_call_as_setup_failed_at_no_charge()
    {
        await using var pair = await app.PairAsync(300);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.AcceptedCallAsync(student, teacher);
        // Only the student's side receives media: never two-way.
        student.StartMedia(callId);

        await app.AdvanceAsync(TimeSpan.FromSeconds(61));

        var ended = await student.NextAsync<CallEndedEvent>("CallEnded");
        Assert.Equal((EndReasons.SetupFailed, 0L), (ended.Reason, ended.BilledSeconds));
        var wallet = await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((300L, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
    }

    [Fact]
    public async Task The_student_is_warned_and_the_call_ends_when_the_balance_runs_out()
    {
        await using var pair = await app.PairAsync(130);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        // Ticks every 5 s: one after 15 s is due at the latest by 16 s, with 2 minutes left or less.
        await app.AdvanceAsync(TimeSpan.FromSeconds(16));
        // The first tick may already be past 2 minutes left (a tick fires whenever a node sweeps),
        // in which case the 5-minute warning is skipped: the student is warned once per threshold crossed.
        var twoMinutes = await student.NextAsync<BalanceWarningEvent>("BalanceWarning");
        if (twoMinutes.ThresholdMinutes == 5)
        {
            twoMinutes = await student.NextAsync<BalanceWarningEvent>("BalanceWarning");
        }
        await app.AdvanceAsync(TimeSpan.FromSeconds(60));
        var oneMinute = await student.NextAsync<BalanceWarningEvent>("BalanceWarning");
        await app.AdvanceAsync(TimeSpan.FromSeconds(65));

        var ended = await teacher.NextAsync<CallEndedEvent>("CallEnded");
        Assert.Equal(2, twoMinutes.ThresholdMinutes);
        Assert.InRange(twoMinutes.RemainingSeconds, 61, 120);
        Assert.Equal(1, oneMinute.ThresholdMinutes);
        Assert.Equal((callId, EndReasons.BalanceDepleted, 130L), (ended.CallId, ended.Reason, ended.BilledSeconds));
        var wallet = await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((0L, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
    }

    [Fact]
    public async Task A_top_up_during_the_call_extends_it()
    {
        await using var pair = await app.PairAsync(60);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        await app.AdvanceAsync(TimeSpan.FromSeconds(30));
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin)
            .AdjustWalletAsync("s", Guid.NewGuid().ToString(), new AdjustmentRequest { Seconds = 120, Reason = "top-up" });
        await app.AdvanceAsync(TimeSpan.FromSeconds(60));

        Assert.False(student.Has("CallEnded"));
        var ended = await student.InvokeAsync<Call>("EndCall", callId);
        Assert.Equal(90, ended.BilledSeconds);
        Assert.Equal(90, (await app.SdkAs(tenant, "s", CallernRoles.Student).GetMyWalletAsync()).AvailableSeconds);
    }

    [Fact]
    public async Task Calls_of_two_schools_that_tick_in_the_same_sweep_each_keep_their_own_balance()
    {
        await using var shortPair = await app.PairAsync(8);
        await using var longPair = await app.PairAsync(300);
        var shortCall = await CallTestKit.ConnectedCallAsync(shortPair.Student, shortPair.Teacher);
        var longCall = await CallTestKit.ConnectedCallAsync(longPair.Student, longPair.Teacher);

        // Both calls' ticks are due at the next sweep and fire together.
        await app.AdvanceAsync(TimeSpan.FromSeconds(5));
        var shortTimer = await shortPair.Student.NextAsync<CallTimerEvent>("CallTimer");
        var longTimer = await longPair.Student.NextAsync<CallTimerEvent>("CallTimer");
        // The short call's 8 s are billed once both sides' confirmations cover them (every 4 s).
        await app.AdvanceAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((shortCall, 8L), (shortTimer.CallId, shortTimer.ElapsedSeconds + shortTimer.RemainingSeconds));
        Assert.Equal((longCall, 300L), (longTimer.CallId, longTimer.ElapsedSeconds + longTimer.RemainingSeconds));
        var ended = await shortPair.Teacher.NextAsync<CallEndedEvent>("CallEnded");
        Assert.Equal((shortCall, EndReasons.BalanceDepleted, 8L), (ended.CallId, ended.Reason, ended.BilledSeconds));
        Assert.False(longPair.Student.Has("CallEnded"));
        var wallet = await app.SdkAs(longPair.Tenant, "s", CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((0L, 300L), (wallet.AvailableSeconds, wallet.HeldSeconds));
    }

    [Fact]
    public async Task A_drop_within_the_grace_pauses_billing_and_a_longer_one_ends_the_call()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        await CallTestKit.ConnectedCallAsync(student, teacher);

        await app.AdvanceAsync(TimeSpan.FromSeconds(20));
        var lastConfirmed = app.Clock.GetUtcNow();
        await student.LeaveAsync();
        // No disconnect handler is needed: the student's confirmations stop, and billing pauses at the last one.
        await app.AdvanceAsync(TimeSpan.FromSeconds(20));
        var dropped = await teacher.NextAsync<PeerConnectionEvent>("PeerConnection");
        await student.ReturnAsync();
        await student.ConfirmMediaAsync();
        var back = await teacher.NextAsync<PeerConnectionEvent>("PeerConnection");
        await app.AdvanceAsync(TimeSpan.FromSeconds(10));
        await student.LeaveAsync();
        await app.AdvanceAsync(TimeSpan.FromSeconds(31));

        var ended = await teacher.NextAsync<CallEndedEvent>("CallEnded");
        Assert.False(dropped.Connected);
        // The grace counts from the last confirmed moment, 20 s into the call.
        Assert.InRange(dropped.GraceEndsAt!.Value - lastConfirmed, TimeSpan.FromSeconds(29.999), TimeSpan.FromSeconds(30.001));
        Assert.True(back.Connected);
        // 20 s before the drop + 10 s after coming back; the 20 s away and the final 31 s are not billed.
        Assert.Equal((EndReasons.ConnectionLost, 30L), (ended.Reason, ended.BilledSeconds));
    }

    [Fact]
    public async Task A_third_user_cannot_inject_or_read_signals_and_ended_calls_relay_nothing()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        await app.StudentWithSecondsAsync(tenant, "intruder", 600);
        await using var intruder = await CallParty.JoinAsync(app, tenant, "intruder", CallernRoles.Student);
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);

        var injected = await Assert.ThrowsAsync<HubException>(() => intruder.InvokeAsync("SendSignal", callId, new SignalMessage("offer", "evil")));
        var oversized = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync("SendSignal", callId, new SignalMessage("offer", new string('x', 17 * 1024))));
        await student.InvokeAsync("SendSignal", callId, new SignalMessage("candidate", "c1"));
        var relayed = await teacher.NextAsync<SignalEvent>("Signal");
        await student.InvokeAsync<Call>("EndCall", callId);
        var afterEnd = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync("SendSignal", callId, new SignalMessage("candidate", "late")));

        Assert.Contains("call_not_found", injected.Message);
        Assert.Contains("invalid_argument", oversized.Message);
        Assert.Contains("call_ended", afterEnd.Message);
        Assert.Equal("c1", relayed.Signal.Payload);
        Assert.False(teacher.Has("Signal"));
        Assert.False(intruder.Has("Signal"));
    }

    [Fact]
    public async Task The_student_rates_once_and_the_rating_feeds_the_next_ranking()
    {
        await using var pair = await app.PairAsync(600);
        var (tenant, student, teacher) = pair;
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await app.AdvanceAsync(TimeSpan.FromSeconds(30));
        await student.InvokeAsync<Call>("EndCall", callId);
        var sdk = app.SdkAs(tenant, "s", CallernRoles.Student);

        var rated = await sdk.RateCallAsync(callId, new Sdk.RateCallRequest { Stars = 5, Comment = "Great lesson" });
        var again = await Assert.ThrowsAsync<CallernApiException<ProblemDetails>>(() => sdk.RateCallAsync(callId, new Sdk.RateCallRequest { Stars = 1 }));
        var preview = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin)
            .PreviewMatchingAsync(new Sdk.MatchPreviewRequest { StudentId = "s", Language = "en", Level = "B1" });

        Assert.Equal(5, rated.Rating!.Stars);
        Assert.Equal(409, again.StatusCode);
        var candidate = Assert.Single(preview.Candidates);
        Assert.Equal("t", candidate.TeacherId);
        var weights = new Platform.Matching.RankingWeights();
        Assert.Equal(weights.OwnRating, candidate.Breakdown.OwnRating);
        // The teacher's history as ranking sees it: one 5-star rating, one offer accepted out of one,
        // idle since the call ended a moment ago.
        var bayesian = (weights.PriorRatingCount * weights.PriorRating + 5) / (weights.PriorRatingCount + 1);
        Assert.Equal(weights.Rating * (bayesian - 1) / 4, candidate.Breakdown.Rating, 9);
        Assert.Equal(weights.Acceptance * (1 + 0.8 * 5) / (1 + 5), candidate.Breakdown.Acceptance, 9);
        Assert.Equal(0, candidate.Breakdown.Fairness, 6);
        var history = await sdk.ListCallsAsync();
        Assert.Equal(5, Assert.Single(history.Items).Rating!.Stars);
    }
}
