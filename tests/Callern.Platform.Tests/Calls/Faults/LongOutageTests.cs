using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// Issue 17: the platform process is killed and stays down longer than the reconnect grace (the
/// default 30 s); the apps reconnect when it comes back. The grace counts from the last confirmed
/// moment, whatever process evaluates it, and a reconnect does not reset it: the new process ends
/// the call <c>connection_lost</c> and bills nothing past the last confirmation.
/// </summary>
public sealed class LongOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task Killed_for_longer_than_the_grace_the_call_ends_connection_lost_billed_to_the_last_confirmation()
    {
        await _lab.StartPlatformAsync("first");
        var call = await _lab.ConnectedCallAsync();
        // Longer than what a kill may forget plus the default no-charge threshold (10 s), so a charge remains.
        await Task.Delay(TimeSpan.FromSeconds(28));

        _lab.KillPlatform();
        var lastTwoWay = call.LastTwoWay!.Value;
        await Task.Delay(FaultLab.Grace + TimeSpan.FromSeconds(8));
        await _lab.StartPlatformAsync("second");
        var ended = await _lab.EndedAsync(call, TimeSpan.FromSeconds(30));

        Assert.Equal((CallState.Ended, "connection_lost"), (ended.State, ended.EndReason));
        _lab.Log($"last two-way confirmation {lastTwoWay:HH:mm:ss.fff}, ended {ended.EndedAt:HH:mm:ss.fff}");
        // Nothing confirmed after the kill may count: billed up to the first process's last confirmation at most.
        Assert.True(ended.BilledSeconds <= (lastTwoWay - ended.ConnectedAt!.Value + FaultLab.Bound).TotalSeconds,
            $"billed {ended.BilledSeconds} s, connected {ended.ConnectedAt:HH:mm:ss.fff}, last confirmed {lastTwoWay:HH:mm:ss.fff}");
        await _lab.AssertHonestBillingAsync("SIGKILL for longer than the grace, clients reconnect on restart", call, ended, FaultLab.UnwrittenAtKill);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
