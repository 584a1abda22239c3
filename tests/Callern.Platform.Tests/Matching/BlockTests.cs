using Callern.Platform.Calls;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Call = Callern.Platform.Calls.Call;
using CallRequest = Callern.Platform.Calls.CallRequest;
using IncomingCallEvent = Callern.Platform.Calls.IncomingCallEvent;
using MatchPreviewRequest = Callern.Sdk.MatchPreviewRequest;

namespace Callern.Platform.Tests.Matching;

public sealed class BlockTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_teacher_the_student_blocked_is_never_rung_even_when_preferred_and_rings_again_once_unblocked()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "mia", 600);
        await using var blocked = await app.AvailableTeacherAsync(tenant, "blocked");
        await using var other = await app.AvailableTeacherAsync(tenant, "other");
        var mia = app.SdkAs(tenant, "mia", CallernRoles.Student);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var block = await mia.BlockUserAsync("blocked", new BlockRequest { Reason = "talks over me" });
        var preview = await admin.PreviewMatchingAsync(new MatchPreviewRequest { StudentId = "mia", PreferredTeachers = ["blocked"] });
        await using var student = await CallParty.JoinAsync(app, tenant, "mia", CallernRoles.Student);
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, ["blocked"]));
        var rung = await other.NextAsync<IncomingCallEvent>("IncomingCall");

        Assert.Equal(("mia", "blocked", "student", "talks over me"), (block.StudentId, block.TeacherId, block.BlockedBy, block.Reason));
        Assert.Equal(["other"], preview.Candidates.Select(c => c.TeacherId));
        Assert.Equal(call.Id, rung.CallId);
        Assert.Equal(["blocked"], (await mia.ListMyBlocksAsync()).Select(b => b.TeacherId));

        await student.InvokeAsync<Call>("EndCall", call.Id);
        await mia.UnblockUserAsync("blocked");
        var after = await admin.PreviewMatchingAsync(new MatchPreviewRequest { StudentId = "mia", PreferredTeachers = ["blocked"] });
        Assert.Equal("blocked", after.Candidates.First().TeacherId);
        Assert.Empty(await mia.ListMyBlocksAsync());
    }

    [Fact]
    public async Task A_teachers_block_of_a_student_holds_whatever_the_student_does_and_the_request_waits_for_another_teacher()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "leo", 600);
        await using var teacher = await app.AvailableTeacherAsync(tenant, "only");
        var only = app.SdkAs(tenant, "only", CallernRoles.Teacher);
        var leo = app.SdkAs(tenant, "leo", CallernRoles.Student);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        await only.BlockUserAsync("leo", new BlockRequest { Reason = "rude" });
        // The student has no block of their own to lift; the teacher's stays.
        var lift = await Assert.ThrowsAnyAsync<CallernApiException>(() => leo.UnblockUserAsync("only"));
        var call = await leo.RequestCallAsync(new Sdk.CallRequest { Language = "en", Level = "B1" });
        var listed = await admin.ListBlocksAsync(studentId: "leo");

        Assert.Equal(404, lift.StatusCode);
        Assert.Equal(Sdk.CallState.Queued, call.State);
        Assert.Equal(("only", "teacher", "rude"), (listed.Single().TeacherId, listed.Single().BlockedBy, listed.Single().Reason));
        Assert.Equal(["leo"], (await only.ListMyBlocksAsync()).Select(b => b.StudentId));
    }

    [Fact]
    public async Task An_admin_block_of_a_pair_filters_it_and_only_the_admin_lifts_it()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "ana", 600);
        await app.TeacherAsync(tenant, "tom");
        await using var tom = await CallParty.JoinAsync(app, tenant, "tom", CallernRoles.Teacher);
        await tom.InvokeAsync<object>("SetAvailability", "available");
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        await admin.BlockPairAsync("ana", "tom", new BlockRequest { Reason = "complaint #12" });
        var blockedPreview = await admin.PreviewMatchingAsync(new MatchPreviewRequest { StudentId = "ana" });
        var tomCannotLift = await Assert.ThrowsAnyAsync<CallernApiException>(() => app.SdkAs(tenant, "tom", CallernRoles.Teacher).UnblockUserAsync("ana"));
        await admin.UnblockPairAsync("ana", "tom");
        var liftedPreview = await admin.PreviewMatchingAsync(new MatchPreviewRequest { StudentId = "ana" });
        var again = await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.UnblockPairAsync("ana", "tom"));

        Assert.Empty(blockedPreview.Candidates);
        Assert.Equal(404, tomCannotLift.StatusCode);
        Assert.Equal(["tom"], liftedPreview.Candidates.Select(c => c.TeacherId));
        Assert.Equal(404, again.StatusCode);
    }

    [Fact]
    public async Task Bad_block_requests_are_refused_and_change_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        await app.StudentWithSecondsAsync(tenant, "sam", 0);
        await app.TeacherAsync(tenant, "tia");
        var sam = app.SdkAs(tenant, "sam", CallernRoles.Student);
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        var unknown = await Assert.ThrowsAnyAsync<CallernApiException>(() => sam.BlockUserAsync("nobody", new BlockRequest()));
        // A student blocks teachers, not other students.
        var student = await Assert.ThrowsAnyAsync<CallernApiException>(() => sam.BlockUserAsync("sam", new BlockRequest()));
        var tooLong = await Assert.ThrowsAnyAsync<CallernApiException>(() => sam.BlockUserAsync("tia", new BlockRequest { Reason = new string('x', 501) }));
        var badId = await Assert.ThrowsAnyAsync<CallernApiException>(() => sam.BlockUserAsync("not an id!", new BlockRequest()));
        var adminOwn = await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.ListMyBlocksAsync());
        var noFilter = await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.ListBlocksAsync());

        Assert.Equal((404, 404, 400, 400, 403, 400), (unknown.StatusCode, student.StatusCode, tooLong.StatusCode, badId.StatusCode, adminOwn.StatusCode, noFilter.StatusCode));
        Assert.Empty(await admin.ListBlocksAsync(studentId: "sam"));
    }
}
