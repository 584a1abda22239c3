using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR;
using CallernRoles = Callern.Sdk.CallernRoles;

namespace Callern.Platform.Tests.Calls;

public sealed class CallFlowTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_student_and_a_teacher_complete_a_call_and_the_wallet_and_earnings_show_it()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ana", 600);
        await using var teacher = await app.AvailableTeacherAsync(tenant, "emma");
        await using var student = await CallParty.JoinAsync(app, tenant, "ana", CallernRoles.Student);

        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", "en-GB", null, null));
        var incoming = await teacher.NextAsync<IncomingCallEvent>("IncomingCall");
        Assert.Equal(CallState.Ringing, call.State);
        Assert.Equal(("ana", "Student ana", "B1"), (incoming.Student.Id, incoming.Student.DisplayName, incoming.Student.Level));

        var accepted = await teacher.InvokeAsync<CallAcceptedEvent>("AcceptOffer", incoming.OfferId);
        var studentSide = await student.NextAsync<CallAcceptedEvent>("CallAccepted");
        Assert.True(accepted.Polite);
        Assert.False(studentSide.Polite);
        Assert.Equal("emma", studentSide.Peer.Id);
        Assert.Equal("ana", accepted.Peer.Id);

        await student.InvokeAsync("SendSignal", call.Id, new SignalMessage("offer", "v=0 offer-sdp"));
        var offer = await teacher.NextAsync<SignalEvent>("Signal");
        await teacher.InvokeAsync("SendSignal", call.Id, new SignalMessage("answer", "v=0 answer-sdp"));
        var answer = await student.NextAsync<SignalEvent>("Signal");
        Assert.Equal(("ana", "offer", "v=0 offer-sdp"), (offer.From, offer.Signal.Type, offer.Signal.Payload));
        Assert.Equal(("emma", "answer"), (answer.From, answer.Signal.Type));

        // Billing starts only when both sides confirm that media reaches them.
        student.StartMedia(call.Id);
        await student.ConfirmMediaAsync();
        Assert.False(student.Has("CallConnected"));
        await CallTestKit.ConnectMediaAsync(call.Id, student, teacher);

        await app.AdvanceAsync(TimeSpan.FromSeconds(64)); // 16 confirmations of each side
        var timer = await student.NextAsync<CallTimerEvent>("CallTimer");
        var teacherTimer = await teacher.NextAsync<CallTimerEvent>("CallTimer");
        Assert.Equal(600, timer.ElapsedSeconds + timer.RemainingSeconds);
        Assert.Null(teacherTimer.RemainingSeconds);

        var ended = await student.InvokeAsync<Call>("EndCall", call.Id);
        var endedEvent = await teacher.NextAsync<CallEndedEvent>("CallEnded");
        Assert.Equal((CallState.Ended, EndReasons.Completed, 64L), (ended.State, ended.EndReason, ended.BilledSeconds));
        Assert.Equal(64, endedEvent.BilledSeconds);

        var wallet = await app.SdkAs(tenant, "ana", CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((536L, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        var earnings = await app.SdkAs(tenant, "emma", CallernRoles.Teacher).GetMyEarningsAsync();
        Assert.Equal(64, earnings.Seconds);

        var again = await student.InvokeAsync<Call>("EndCall", call.Id);
        Assert.Equal(64, again.BilledSeconds);
        Assert.Equal(536, (await app.SdkAs(tenant, "ana", CallernRoles.Student).GetMyWalletAsync()).AvailableSeconds);
    }

    [Fact]
    public async Task No_minutes_no_call_and_one_live_call_per_student()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "broke", 0);
        await app.StudentWithSecondsAsync(tenant, "rich", 600);
        await using var broke = await CallParty.JoinAsync(app, tenant, "broke", CallernRoles.Student);
        await using var rich = await CallParty.JoinAsync(app, tenant, "rich", CallernRoles.Student);
        await using var stranger = await CallParty.JoinAsync(app, tenant, "stranger", CallernRoles.Student);

        var refused = await Assert.ThrowsAsync<HubException>(() => broke.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null)));
        // No profile to take the language from, and no wallet: the missing language is named first.
        var unnamed = await Assert.ThrowsAsync<HubException>(() => stranger.InvokeAsync<Call>("RequestCall", new CallRequest(null, "B1", null, null, null)));
        var first = await rich.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var second = await Assert.ThrowsAsync<HubException>(() => rich.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null)));

        Assert.Contains("no_minutes", refused.Message);
        Assert.Contains("invalid_argument", unnamed.Message);
        Assert.Equal(CallState.Queued, first.State);
        Assert.Contains("call_in_progress", second.Message);
        Assert.Empty((await app.SdkAs(tenant, "broke", CallernRoles.Student).ListCallsAsync()).Items);
        Assert.Empty((await app.SdkAs(tenant, "stranger", CallernRoles.Student).ListCallsAsync()).Items);
    }

    [Fact]
    public async Task Sequential_ringing_cascades_from_a_decline_to_a_timeout_to_an_accept()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "kenji", 600);
        // Accent decides the order: en-GB first (the student's wish), then the others by id.
        await using var first = await app.AvailableTeacherAsync(tenant, "t1-gb", "en-GB");
        await using var second = await app.AvailableTeacherAsync(tenant, "t2-us", "en-US");
        await using var third = await app.AvailableTeacherAsync(tenant, "t3-au", "en-AU");
        await using var student = await CallParty.JoinAsync(app, tenant, "kenji", CallernRoles.Student);

        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", "en-GB", null, null));
        var offer1 = await first.NextAsync<IncomingCallEvent>("IncomingCall");
        Assert.False(second.Has("IncomingCall") || third.Has("IncomingCall"));

        await first.InvokeAsync("DeclineOffer", offer1.OfferId);
        // t2 and t3 tie on everything but idle time: t2 has been available longer, so it rings next.
        await second.NextAsync<IncomingCallEvent>("IncomingCall");
        Assert.False(third.Has("IncomingCall"));

        await app.AdvanceAsync(TimeSpan.FromSeconds(31));
        var closed = await second.NextAsync<OfferClosedEvent>("OfferClosed");
        var offer3 = await third.NextAsync<IncomingCallEvent>("IncomingCall");
        await third.InvokeAsync<CallAcceptedEvent>("AcceptOffer", offer3.OfferId);

        Assert.Equal("timed_out", closed.Outcome);
        var summary = await app.SdkAs(tenant, "kenji", CallernRoles.Student).GetCallAsync(call.Id);
        Assert.Equal(["declined", "timed_out", "accepted"], summary.Offers.Select(o => o.Outcome));
        Assert.Equal("t1-gb", summary.Offers.First().TeacherId);
        Assert.Equal(["t1-gb", "t2-us", "t3-au"], summary.Offers.Select(o => o.TeacherId));
        Assert.Equal("t3-au", summary.TeacherId);
    }
}
