using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR;
using SignalEvent = Callern.Platform.Calls.SignalEvent;
using SignalMessage = Callern.Platform.Calls.SignalMessage;

namespace Callern.Platform.Tests.Calls;

/// <summary>
/// The relay answers from each node's view of a call's participants. A call ended on this node
/// relays nothing at once (<see cref="MeteringTests"/>); these cover an end on another node: two
/// nodes on one database and one clock, both parties connected to node A, the end sent to node B.
/// </summary>
public sealed class LiveCallParticipantsTests
{
    [Fact]
    public async Task A_call_that_keeps_signalling_stops_relaying_soon_after_an_end_on_another_node()
    {
        var nodeA = new CallernApp();
        await using var nodeB = nodeA.NextNode();
        var (tenant, student, teacher, callId) = await SignallingCallAsync(nodeA);

        await nodeB.SdkAs(tenant, "mia", CallernRoles.Student).EndCallAsync(callId);
        await nodeA.AdvanceAsync(LiveCallParticipants.FreshFor + TimeSpan.FromSeconds(1));
        var refused = await SignalUntilRefusedAsync(student, callId);

        Assert.Contains("call_ended", refused.Message);
        await student.DisposeAsync();
        await teacher.DisposeAsync();
        nodeA.Dispose();
    }

    [Fact]
    public async Task A_view_too_old_to_trust_is_read_again_before_the_next_signal_is_relayed()
    {
        var nodeA = new CallernApp();
        await using var nodeB = nodeA.NextNode();
        var (tenant, student, teacher, callId) = await SignallingCallAsync(nodeA);

        await nodeB.SdkAs(tenant, "mia", CallernRoles.Student).EndCallAsync(callId);
        await nodeA.AdvanceAsync(LiveCallParticipants.TrustFor + TimeSpan.FromSeconds(1));
        var late = await Assert.ThrowsAsync<HubException>(() => student.InvokeAsync("SendSignal", callId, new SignalMessage("candidate", "late")));

        Assert.Contains("call_ended", late.Message);
        Assert.False(teacher.Has("Signal"));
        await student.DisposeAsync();
        await teacher.DisposeAsync();
        nodeA.Dispose();
    }

    // A connected call on node A whose first signal reached the teacher (so node A holds its view).
    private static async Task<(TestTenant Tenant, CallParty Student, CallParty Teacher, Guid CallId)> SignallingCallAsync(CallernApp node)
    {
        var tenant = await node.CreateTenantAsync();
        await node.StudentWithSecondsAsync(tenant, "mia", 600);
        var teacher = await node.AvailableTeacherAsync(tenant, "tom");
        var student = await CallParty.JoinAsync(node, tenant, "mia", CallernRoles.Student);
        var callId = await CallTestKit.ConnectedCallAsync(student, teacher);
        await student.InvokeAsync("SendSignal", callId, new SignalMessage("candidate", "first"));
        Assert.Equal("first", (await teacher.NextAsync<SignalEvent>("Signal")).Signal.Payload);
        return (tenant, student, teacher, callId);
    }

    // Signals every 200 ms until the hub refuses one, for at most 6 s (30 signals: within the
    // connection's burst allowance, which the frozen clock never refills).
    private static async Task<HubException> SignalUntilRefusedAsync(CallParty side, Guid callId)
    {
        for (var attempt = 0; attempt < 30; attempt++)
        {
            try
            {
                await side.InvokeAsync("SendSignal", callId, new SignalMessage("candidate", $"c{attempt}"));
            }
            catch (HubException refused)
            {
                return refused;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("Signals were still relayed 6 s after the call ended on another node.");
    }
}
