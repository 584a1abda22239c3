using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR;
using CallernRoles = Callern.Sdk.CallernRoles;

namespace Callern.Platform.Tests.Calls;

public sealed class RingingTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Parallel_ringing_lets_the_first_accept_win_and_revokes_the_others()
    {
        var tenant = await app.CreateTenantAsync();
        await app.UseSettingsAsync(tenant, c => { c.RingStrategy = Sdk.RingStrategy.Parallel; c.ParallelRingCount = 3; });
        await app.StudentWithSecondsAsync(tenant, "mia", 600);
        await using var a = await app.AvailableTeacherAsync(tenant, "a");
        await using var b = await app.AvailableTeacherAsync(tenant, "b");
        await using var c = await app.AvailableTeacherAsync(tenant, "c");
        await using var student = await CallParty.JoinAsync(app, tenant, "mia", CallernRoles.Student);

        await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var offers = await Task.WhenAll(a.NextAsync<IncomingCallEvent>("IncomingCall"), b.NextAsync<IncomingCallEvent>("IncomingCall"), c.NextAsync<IncomingCallEvent>("IncomingCall"));
        Assert.Equal(3, (await student.NextAsync<CallRingingEvent>("CallRinging")).TeachersRinging);

        await b.InvokeAsync<CallAcceptedEvent>("AcceptOffer", offers[1].OfferId);
        var revokedA = await a.NextAsync<OfferClosedEvent>("OfferClosed");
        var revokedC = await c.NextAsync<OfferClosedEvent>("OfferClosed");
        var late = await Assert.ThrowsAsync<HubException>(() => a.InvokeAsync<CallAcceptedEvent>("AcceptOffer", offers[0].OfferId));

        Assert.Equal(("revoked", "revoked"), (revokedA.Outcome, revokedC.Outcome));
        Assert.Contains("offer_closed", late.Message);
        Assert.Equal("b", (await student.NextAsync<CallAcceptedEvent>("CallAccepted")).Peer.Id);
    }

    [Fact]
    public async Task A_request_that_names_no_preferences_takes_them_from_the_students_profile()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ana", 600);
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).UpsertStudentAsync("ana", new Sdk.StudentInput
        {
            DisplayName = "Ana", TimeZone = "Europe/London", TargetLanguage = "en", Level = "B1",
            Preferences = new Sdk.StudentPreferences { Accent = "en-US", Specialization = "conversational" },
        });
        await using var british = await app.AvailableTeacherAsync(tenant, "gb", "en-GB");
        await using var american = await app.AvailableTeacherAsync(tenant, "us", "en-US");
        await using var student = await CallParty.JoinAsync(app, tenant, "ana", CallernRoles.Student);

        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest(null, null, null, null, null));

        Assert.Equal(("en", "B1", "en-US", "conversational"), (call.Language, call.Level, call.Accent, call.Specialization));
        Assert.Equal(call.Id, (await american.NextAsync<IncomingCallEvent>("IncomingCall")).CallId);
        Assert.False(british.Has("IncomingCall"));
    }

    [Fact]
    public async Task Two_teachers_accepting_at_the_same_instant_make_one_call()
    {
        var tenant = await app.CreateTenantAsync();
        await app.UseSettingsAsync(tenant, c => { c.RingStrategy = Sdk.RingStrategy.Parallel; c.ParallelRingCount = 2; });
        await app.StudentWithSecondsAsync(tenant, "leo", 600);
        await using var a = await app.AvailableTeacherAsync(tenant, "a");
        await using var b = await app.AvailableTeacherAsync(tenant, "b");
        await using var student = await CallParty.JoinAsync(app, tenant, "leo", CallernRoles.Student);
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var offerA = await a.NextAsync<IncomingCallEvent>("IncomingCall");
        var offerB = await b.NextAsync<IncomingCallEvent>("IncomingCall");

        var results = await Task.WhenAll(Accept(a, offerA.OfferId), Accept(b, offerB.OfferId));

        Assert.Single(results, r => r);
        var summary = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetCallAsync(call.Id);
        Assert.Single(summary.Offers, o => o.Outcome == "accepted");
        Assert.Equal(Sdk.CallState.Accepted, summary.State);
        var wallet = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetStudentWalletAsync("leo");
        Assert.Equal(600, wallet.HeldSeconds);

        static async Task<bool> Accept(CallParty teacher, Guid offerId)
        {
            try
            {
                await teacher.InvokeAsync<CallAcceptedEvent>("AcceptOffer", offerId);
                return true;
            }
            catch (HubException exception) when (exception.Message.Contains("offer_closed", StringComparison.Ordinal))
            {
                return false;
            }
        }
    }

    [Fact]
    public async Task Requests_arriving_together_all_ring_while_a_matching_teacher_is_free_and_only_the_surplus_waits()
    {
        // 64 students rank the 48 teachers alike, so their requests all go for the same best few at once.
        const int Teachers = 48, Students = 64;
        var tenant = await app.CreateTenantAsync();
        var teachers = new List<CallParty>();
        try
        {
            for (var i = 0; i < Teachers; i++)
            {
                teachers.Add(await app.AvailableTeacherAsync(tenant, $"t{i:00}"));
            }
            var students = new List<Sdk.CallernClient>();
            for (var i = 0; i < Students; i++)
            {
                students.Add(app.SdkAs(tenant, await app.StudentWithSecondsAsync(tenant, $"s{i:00}", 600), CallernRoles.Student));
            }

            var calls = await Task.WhenAll(students.Select(s => s.RequestCallAsync(new Sdk.CallRequest { Language = "en", Level = "B1" })));

            Assert.Equal((Teachers, Students - Teachers),
                (calls.Count(c => c.State == Sdk.CallState.Ringing), calls.Count(c => c.State == Sdk.CallState.Queued)));
            // Each teacher rings for one of the ringing calls, and each ringing call rings one teacher.
            var offers = await Task.WhenAll(teachers.Select(t => t.NextAsync<IncomingCallEvent>("IncomingCall")));
            Assert.Equal(calls.Where(c => c.State == Sdk.CallState.Ringing).Select(c => c.Id).Order(), offers.Select(o => o.CallId).Order());
        }
        finally
        {
            foreach (var teacher in teachers)
            {
                await teacher.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_queued_request_rings_when_a_teacher_becomes_available_and_gives_up_after_the_maximum_wait()
    {
        var tenant = await app.CreateTenantAsync();
        await app.UseSettingsAsync(tenant, c => c.MaxQueueWaitSeconds = 60);
        await app.StudentWithSecondsAsync(tenant, "first", 600);
        await app.StudentWithSecondsAsync(tenant, "second", 600);
        await app.TeacherAsync(tenant, "late");
        await using var first = await CallParty.JoinAsync(app, tenant, "first", CallernRoles.Student);
        await using var second = await CallParty.JoinAsync(app, tenant, "second", CallernRoles.Student);

        var call1 = await first.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var call2 = await second.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        Assert.Equal((CallState.Queued, 1, 2), (call1.State, call1.QueuePosition, call2.QueuePosition));
        Assert.Equal(2, (await second.NextAsync<CallQueuedEvent>("CallQueued")).Position);

        await using var teacher = await CallParty.JoinAsync(app, tenant, "late", CallernRoles.Teacher);
        await teacher.InvokeAsync<object>("SetAvailability", "available");
        await app.AdvanceAsync(TimeSpan.FromSeconds(5));
        var offer = await teacher.NextAsync<IncomingCallEvent>("IncomingCall");
        Assert.Equal(call1.Id, offer.CallId);
        await teacher.InvokeAsync<CallAcceptedEvent>("AcceptOffer", offer.OfferId);

        await app.AdvanceAsync(TimeSpan.FromSeconds(60));
        var gaveUp = await second.NextAsync<CallEndedEvent>("CallEnded");
        Assert.Equal((call2.Id, EndReasons.NoTeacher, 0L), (gaveUp.CallId, gaveUp.Reason, gaveUp.BilledSeconds));
    }

    [Fact]
    public async Task A_teacher_who_misses_offers_in_a_row_is_set_away()
    {
        var tenant = await app.CreateTenantAsync();
        await app.UseSettingsAsync(tenant, c => { c.MissedOffersBeforeAway = 2; c.MaxQueueWaitSeconds = 600; });
        await using var teacher = await app.AvailableTeacherAsync(tenant, "sleepy");
        for (var i = 0; i < 2; i++)
        {
            await app.StudentWithSecondsAsync(tenant, $"s{i}", 600);
            await using var student = await CallParty.JoinAsync(app, tenant, $"s{i}", CallernRoles.Student);
            await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
            await teacher.NextAsync<IncomingCallEvent>("IncomingCall");
            await app.AdvanceAsync(TimeSpan.FromSeconds(31));
            await teacher.NextAsync<OfferClosedEvent>("OfferClosed");
        }

        var presence = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ListTeacherPresenceAsync();
        Assert.Equal(Sdk.PresenceStatus.Away, presence.Items.Single(p => p.TeacherId == "sleepy").Status);
    }
}
