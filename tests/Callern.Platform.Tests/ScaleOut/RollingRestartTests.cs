using Callern.Platform.Matching;
using Callern.Platform.Tests.Calls.Faults;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.ScaleOut;

/// <summary>
/// Issue 19: a rolling restart, as a deploy does it. 100 lessons between SDK apps that reach two
/// nodes through nginx; each node in turn is stopped (SIGTERM) and started again. The apps of the
/// stopped node reconnect through the balancer to the other one and rejoin. No call is dropped,
/// and each is settled once, within the bound of the media its apps confirmed.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class RollingRestartTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Calls = 100;

    /// <summary>
    /// What the restarts may leave unbilled per call, in the student's favour: twice a rejoin (the
    /// reconnect, then a confirmation interval before the new run counts), and an end on the node
    /// that does not hold the other party, which bills that party up to its last written stamp.
    /// </summary>
    private static readonly TimeSpan UnderBilledTolerance = TimeSpan.FromSeconds(25);

    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task Restarting_each_node_in_turn_drops_no_call_and_settles_each_once()
    {
        await _lab.StartRedisAsync(nodes: 2);
        await _lab.StartNodeAsync(1);
        await _lab.StartNodeAsync(2);
        await _lab.StartBalancerAsync();
        var tenant = await _lab.Host.CreateTenantAsync();
        // Every teacher is available, and known so to both nodes' matching, before the first request:
        // each student's call then rings the teacher it asks for.
        var parties = await TenAtATimeAsync(i => _lab.PartiesAsync(tenant, $"s{i}", $"t{i}"));
        await Task.Delay(AvailableTeachers.FreshFor * 2);
        var calls = await TenAtATimeAsync(i => _lab.ConnectedCallAsync(tenant, parties[i - 1].Student, parties[i - 1].Teacher));
        await Task.Delay(TimeSpan.FromSeconds(10));

        foreach (var node in new[] { 1, 2 })
        {
            _lab.StopNode(node);
            var stoppedAt = DateTimeOffset.UtcNow;
            await Polling.EventuallyAsync(() => Task.FromResult(calls.All(c => c.BillingSince(stoppedAt))), done => done, TimeSpan.FromSeconds(60));
            Assert.All(calls, c => Assert.True(c.BillingSince(stoppedAt), $"call {c.CallId} bills again after node {node} stopped"));
            _lab.Log($"every call billing again {(DateTimeOffset.UtcNow - stoppedAt).TotalSeconds:F1} s after node {node} stopped");
            await _lab.StartNodeAsync(node);
            // The balancer tries a node again 2 s after it refused a connection.
            await Task.Delay(TimeSpan.FromSeconds(5));
        }

        await Task.WhenAll(calls.Select(c => c.Student.Client.EndCallAsync(c.CallId)));
        foreach (var call in calls)
        {
            var ended = await _lab.EndedAsync(call, TimeSpan.FromSeconds(10));
            Assert.Equal((CallState.Ended, "completed"), (ended.State, ended.EndReason));
            await _lab.AssertHonestBillingAsync($"rolling restart of two nodes, call of {call.Student.UserId}", call, ended, UnderBilledTolerance);
        }
    }

    private static async Task<T[]> TenAtATimeAsync<T>(Func<int, Task<T>> each)
    {
        using var starting = new SemaphoreSlim(10);
        return await Task.WhenAll(Enumerable.Range(1, Calls).Select(async i =>
        {
            await starting.WaitAsync();
            try
            {
                return await each(i);
            }
            finally
            {
                starting.Release();
            }
        }));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
