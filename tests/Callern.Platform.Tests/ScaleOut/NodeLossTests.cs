using Callern.Platform.Tests.Calls.Faults;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.ScaleOut;

/// <summary>
/// Issue 19: two nodes behind nginx, as <c>CALLERN_NODES=2 ./run.sh</c> runs them. Both apps reach
/// the platform through the balancer and sit on node 1 (node 2 joins later, as in a scale-up); node 1
/// is killed (SIGKILL) mid-lesson. The apps reconnect as the SDK does, through the same address,
/// land on node 2, rejoin and confirm media again; node 2 takes the call's deadlines from the
/// database. One charge, billed within the bound of the media the apps confirmed.
/// </summary>
public sealed class NodeLossTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task When_the_node_holding_both_parties_dies_they_go_on_through_the_other_node_and_pay_once_for_the_media()
    {
        await _lab.StartRedisAsync(nodes: 2);
        await _lab.StartNodeAsync(1);
        await _lab.StartBalancerAsync();
        var call = await _lab.ConnectedCallAsync();
        await _lab.StartNodeAsync(2);
        // Longer than what a kill may forget plus the default no-charge threshold (10 s), so a charge remains.
        await Task.Delay(TimeSpan.FromSeconds(28));

        _lab.KillNode(1);
        var killedAt = DateTimeOffset.UtcNow;
        await Polling.EventuallyAsync(() => Task.FromResult(call.BillingSince(killedAt)), done => done, TimeSpan.FromSeconds(30));
        Assert.True(call.BillingSince(killedAt), "both apps confirm media to node 2 and it bills again");
        _lab.Log($"billing again {(DateTimeOffset.UtcNow - killedAt).TotalSeconds:F1} s after the kill");
        await Task.Delay(TimeSpan.FromSeconds(8));

        await call.Student.Client.EndCallAsync(call.CallId);
        var ended = await _lab.EndedAsync(call, TimeSpan.FromSeconds(10));

        Assert.Equal((CallState.Ended, "completed"), (ended.State, ended.EndReason));
        Assert.Equal(call.CallId, (await call.Teacher.Ended.WaitAsync(TimeSpan.FromSeconds(10))).CallId);
        await _lab.AssertHonestBillingAsync("two nodes, SIGKILL of the node holding both parties", call, ended, FaultLab.UnwrittenAtKill);
    }


    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
