using Callern.Platform.Calls;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Call = Callern.Platform.Calls.Call;
using CallRequest = Callern.Platform.Calls.CallRequest;
using CallState = Callern.Platform.Calls.CallState;
using IncomingCallEvent = Callern.Platform.Calls.IncomingCallEvent;
using MatchPreviewRequest = Callern.Sdk.MatchPreviewRequest;

namespace Callern.Platform.Tests.Matching;

/// <summary>
/// Ringing chooses from a per-node snapshot of available teachers that can be a second old. Two nodes
/// on one database and one (frozen) clock: changes made on node B are invisible to node A's snapshot,
/// and node A must still ring only teachers who can take the call, and find one who just became free.
/// </summary>
public sealed class AvailableTeachersTests
{
    [Fact]
    public async Task A_teacher_who_went_away_on_another_node_is_not_rung_from_a_stale_snapshot()
    {
        var nodeA = new CallernApp();
        await using var nodeB = nodeA.NextNode();
        var tenant = await nodeA.CreateTenantAsync();
        await nodeA.StudentWithSecondsAsync(tenant, "mia", 600);
        await using var best = await nodeA.AvailableTeacherAsync(tenant, "best");
        await using var other = await nodeA.AvailableTeacherAsync(tenant, "other");
        await using var student = await CallParty.JoinAsync(nodeA, tenant, "mia", CallernRoles.Student);
        var preview = await nodeA.SdkAs(tenant, "admin-1", CallernRoles.Admin).PreviewMatchingAsync(
            new MatchPreviewRequest { StudentId = "mia", PreferredTeachers = ["best"] });

        await nodeB.SdkAs(tenant, "best", CallernRoles.Teacher).SetMyAvailabilityAsync(new SetAvailabilityRequest { Status = PresenceStatus.Away });
        var call = await student.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, ["best"]));
        var incoming = await other.NextAsync<IncomingCallEvent>("IncomingCall");

        Assert.Equal(["best", "other"], preview.Candidates.Select(c => c.TeacherId));
        Assert.Equal(call.Id, incoming.CallId);
        var summary = await nodeA.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetCallAsync(call.Id);
        Assert.Equal(["other"], summary.Offers.Select(o => o.TeacherId));
        nodeA.Dispose();
    }

    [Fact]
    public async Task A_teacher_freed_on_another_node_is_rung_instead_of_queueing_the_request()
    {
        var nodeA = new CallernApp();
        await using var nodeB = nodeA.NextNode();
        var tenant = await nodeA.CreateTenantAsync();
        await nodeA.StudentWithSecondsAsync(tenant, "first", 600);
        await nodeA.StudentWithSecondsAsync(tenant, "second", 600);
        await using var teacher = await nodeA.AvailableTeacherAsync(tenant, "t");
        await using var first = await CallParty.JoinAsync(nodeA, tenant, "first", CallernRoles.Student);
        await using var second = await CallParty.JoinAsync(nodeA, tenant, "second", CallernRoles.Student);
        var firstCall = await CallTestKit.AcceptedCallAsync(first, teacher);
        var busy = await nodeA.SdkAs(tenant, "admin-1", CallernRoles.Admin).PreviewMatchingAsync(new MatchPreviewRequest { StudentId = "second" });

        await nodeB.SdkAs(tenant, "first", CallernRoles.Student).EndCallAsync(firstCall);
        var secondCall = await second.InvokeAsync<Call>("RequestCall", new CallRequest("en", "B1", null, null, null));
        var incoming = await teacher.NextAsync<IncomingCallEvent>("IncomingCall");

        Assert.Empty(busy.Candidates);
        Assert.Equal((secondCall.Id, CallState.Ringing), (incoming.CallId, secondCall.State));
        nodeA.Dispose();
    }
}
