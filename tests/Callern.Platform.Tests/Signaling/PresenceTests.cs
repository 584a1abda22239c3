using System.Net;
using System.Net.Http.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using static Callern.Platform.Tests.Infrastructure.Polling;

namespace Callern.Platform.Tests.Signaling;

public sealed class PresenceTests(CallernApp app) : IClassFixture<CallernApp>
{
    private async Task<TeacherPresence?> ReadAsync(TestTenant tenant, string teacherId) =>
        (await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ListTeacherPresenceAsync()).Items.SingleOrDefault(p => p.TeacherId == teacherId);

    [Fact]
    public async Task A_teacher_sets_status_through_the_hub_and_admins_and_the_teachers_other_tabs_hear_it()
    {
        var tenant = await app.CreateTenantAsync();
        await using var admin = await HubClient.ConnectAsync(app, tenant, "admin-1", CallernRoles.Admin);
        await using var tab1 = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        await using var tab2 = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);

        var answer = await tab1.SetAvailabilityAsync("available");
        var heardByAdmin = await admin.NextPresenceAsync();
        var heardByTab2 = await tab2.NextPresenceAsync();
        var listed = await ReadAsync(tenant, "teacher-1");

        Assert.Equal(PresenceStatus.Available, answer.Status);
        Assert.True(answer.Connected);
        Assert.Equal(("teacher-1", PresenceStatus.Available), (heardByAdmin.TeacherId, heardByAdmin.Status));
        Assert.Equal(PresenceStatus.Available, heardByTab2.Status);
        Assert.Equal(PresenceStatus.Available, listed!.Status);
        Assert.True(listed.Connected);
    }

    [Fact]
    public async Task A_disconnected_teacher_goes_offline_after_the_grace_unless_they_come_back()
    {
        var tenant = await app.CreateTenantAsync();
        await using var admin = await HubClient.ConnectAsync(app, tenant, "admin-1", CallernRoles.Admin);
        var returning = await HubClient.ConnectAsync(app, tenant, "teacher-back", CallernRoles.Teacher);
        var leaving = await HubClient.ConnectAsync(app, tenant, "teacher-gone", CallernRoles.Teacher);
        await returning.SetAvailabilityAsync("available");
        await leaving.SetAvailabilityAsync("away");
        await admin.NextPresenceAsync();
        await admin.NextPresenceAsync();

        await returning.DisposeAsync();
        await leaving.DisposeAsync();
        // Disposing returns before the server has run OnDisconnected: wait until it shows.
        var duringGrace = await EventuallyAsync(() => ReadAsync(tenant, "teacher-gone"), p => p is { Connected: false });
        app.Clock.Advance(TimeSpan.FromSeconds(20));
        await using var back = await HubClient.ConnectAsync(app, tenant, "teacher-back", CallernRoles.Teacher);
        // The handshake completes before the server's OnConnected has recorded the connection: wait for it.
        await EventuallyAsync(() => ReadAsync(tenant, "teacher-back"), p => p is { Connected: true });
        app.Clock.Advance(TimeSpan.FromSeconds(15));
        // Pushed by the sweeper once the 30 s grace of teacher-gone ran out on the fake clock.
        var offline = await admin.NextPresenceAsync();

        Assert.Equal(PresenceStatus.Away, duringGrace!.Status);
        Assert.False(duringGrace.Connected);
        Assert.Equal(("teacher-gone", PresenceStatus.Offline), (offline.TeacherId, offline.Status));
        Assert.Equal(PresenceStatus.Offline, (await ReadAsync(tenant, "teacher-gone"))!.Status);
        var stayed = await ReadAsync(tenant, "teacher-back");
        Assert.Equal(PresenceStatus.Available, stayed!.Status);
        Assert.True(stayed.Connected);
    }

    [Fact]
    public async Task Same_user_id_in_two_tenants_stays_separate()
    {
        var a = await app.CreateTenantAsync("School A");
        var b = await app.CreateTenantAsync("School B");
        await using var adminA = await HubClient.ConnectAsync(app, a, "admin-1", CallernRoles.Admin);
        await using var adminB = await HubClient.ConnectAsync(app, b, "admin-1", CallernRoles.Admin);
        await using var teacherA = await HubClient.ConnectAsync(app, a, "teacher-1", CallernRoles.Teacher);
        await using var otherTabA = await HubClient.ConnectAsync(app, a, "teacher-1", CallernRoles.Teacher);
        await using var teacherB = await HubClient.ConnectAsync(app, b, "teacher-1", CallernRoles.Teacher);

        await teacherA.SetAvailabilityAsync("available");
        await teacherB.SetAvailabilityAsync("away");

        // Each side's first event is its own tenant's: A's "available" never reached B.
        Assert.Equal(PresenceStatus.Available, (await adminA.NextPresenceAsync()).Status);
        Assert.Equal(PresenceStatus.Available, (await otherTabA.NextPresenceAsync()).Status);
        Assert.Equal(PresenceStatus.Away, (await adminB.NextPresenceAsync()).Status);
        Assert.Equal(PresenceStatus.Away, (await teacherB.NextPresenceAsync()).Status);
        Assert.Equal(PresenceStatus.Available, (await ReadAsync(a, "teacher-1"))!.Status);
        Assert.Equal(PresenceStatus.Away, (await ReadAsync(b, "teacher-1"))!.Status);
    }

    [Fact]
    public async Task Teachers_set_status_over_rest_and_admins_filter_the_list_by_status()
    {
        var tenant = await app.CreateTenantAsync();
        await using var admin = await HubClient.ConnectAsync(app, tenant, "admin-1", CallernRoles.Admin);
        await using var connected = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        var teacher1 = app.SdkAs(tenant, "teacher-1", CallernRoles.Teacher);
        var teacher2 = app.SdkAs(tenant, "teacher-2", CallernRoles.Teacher);

        var set = await teacher1.SetMyAvailabilityAsync(new SetAvailabilityRequest { Status = PresenceStatus.Available });
        await teacher2.SetMyAvailabilityAsync(new SetAvailabilityRequest { Status = PresenceStatus.Away });
        var heard = await admin.NextPresenceAsync();
        var adminSdk = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var available = await adminSdk.ListTeacherPresenceAsync(status: "available");
        var firstPage = await adminSdk.ListTeacherPresenceAsync(limit: 1);
        var secondPage = await adminSdk.ListTeacherPresenceAsync(cursor: firstPage.NextCursor, limit: 1);
        // What a teacher's app reads back after a reload.
        var readBack = await teacher1.GetMyAvailabilityAsync();
        var neverSet = await app.SdkAs(tenant, "teacher-3", CallernRoles.Teacher).GetMyAvailabilityAsync();

        Assert.Equal((PresenceStatus.Available, true), (readBack.Status, readBack.Connected));
        Assert.Equal(("teacher-3", PresenceStatus.Offline), (neverSet.TeacherId, neverSet.Status));
        Assert.Equal(PresenceStatus.Available, set.Status);
        Assert.True(set.Connected);
        Assert.Equal(("teacher-1", PresenceStatus.Available), (heard.TeacherId, heard.Status));
        Assert.Equal(["teacher-1"], available.Items.Select(p => p.TeacherId));
        Assert.Equal(["teacher-1"], firstPage.Items.Select(p => p.TeacherId));
        Assert.Equal(["teacher-2"], secondPage.Items.Select(p => p.TeacherId));
        Assert.Null(secondPage.NextCursor);
    }

    [Fact]
    public async Task A_teacher_available_over_rest_without_a_connection_goes_offline_after_the_grace()
    {
        var tenant = await app.CreateTenantAsync();
        await using var admin = await HubClient.ConnectAsync(app, tenant, "admin-1", CallernRoles.Admin);

        await app.SdkAs(tenant, "teacher-1", CallernRoles.Teacher).SetMyAvailabilityAsync(new SetAvailabilityRequest { Status = PresenceStatus.Available });
        Assert.Equal(PresenceStatus.Available, (await admin.NextPresenceAsync()).Status);
        app.Clock.Advance(TimeSpan.FromSeconds(31));

        var offline = await admin.NextPresenceAsync();
        Assert.Equal(("teacher-1", PresenceStatus.Offline, false), (offline.TeacherId, offline.Status, offline.Connected));
    }

    [Fact]
    public async Task Presence_rest_refuses_wrong_roles_and_bad_input()
    {
        var tenant = await app.CreateTenantAsync();

        var asStudent = await app.As(tenant, "student-1", CallernRoles.Student).PutAsJsonAsync("/v1/me/availability", new { status = "available" });
        var badStatus = await app.As(tenant, "teacher-1", CallernRoles.Teacher).PutAsJsonAsync("/v1/me/availability", new { status = "sleeping" });
        var noStatus = await app.As(tenant, "teacher-1", CallernRoles.Teacher).PutAsJsonAsync("/v1/me/availability", new { });
        var teacherLists = await app.As(tenant, "teacher-1", CallernRoles.Teacher).GetAsync("/v1/presence/teachers");
        var badGrace = await app.As(tenant, "admin-1", CallernRoles.Admin).PutAsJsonAsync("/v1/settings", new { presenceGraceSeconds = 1 });

        Assert.Equal(HttpStatusCode.Forbidden, asStudent.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noStatus.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, teacherLists.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badGrace.StatusCode);
        Assert.Contains("presenceGraceSeconds", await badGrace.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Heartbeats_stamp_last_seen_coarsely_not_per_message()
    {
        var tenant = await app.CreateTenantAsync();
        await using var teacher = await HubClient.ConnectAsync(app, tenant, "teacher-1", CallernRoles.Teacher);
        var connectedAt = (await teacher.SetAvailabilityAsync("available")).LastSeenAt;
        var period = TimeSpan.FromSeconds(new Callern.Platform.Signaling.SignalingOptions().HeartbeatSeconds);

        // The heartbeat's phase depends on how far earlier tests moved the clock, but any whole
        // period holds exactly one beat, stamped with the clock at that moment. This class moves
        // the clock in whole seconds, so the next beat is at least a second away.
        app.Clock.Advance(period);
        var firstBeat = await EventuallyAsync(async () => (await ReadAsync(tenant, "teacher-1"))!.LastSeenAt, seen => seen > connectedAt);
        var firstBeatAt = app.Clock.GetUtcNow();
        app.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var afterMessage = (await teacher.SetAvailabilityAsync("away")).LastSeenAt;
        app.Clock.Advance(period - TimeSpan.FromMilliseconds(1));
        var secondBeat = await EventuallyAsync(async () => (await ReadAsync(tenant, "teacher-1"))!.LastSeenAt, seen => seen > firstBeat);

        Assert.Equal(firstBeatAt.ToUnixTimeMilliseconds(), firstBeat!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(firstBeat, afterMessage);
        Assert.Equal(app.Clock.GetUtcNow().ToUnixTimeMilliseconds(), secondBeat!.Value.ToUnixTimeMilliseconds());
    }
}
