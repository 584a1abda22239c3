using Callern.Platform.Tests.Calls.Faults;
using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls;

/// <summary>
/// The platform as a real process, killed with SIGKILL in the middle of a call and started again on
/// the same database, with apps that do not come back: no shutdown hook runs, nothing was written at
/// the kill, and only what the database knows carries the call on. Real clock, default settings:
/// the next start ends the call <c>connection_lost</c> at the last confirmation plus the grace, and
/// bills nothing past that confirmation.
/// </summary>
public sealed class HardKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task A_call_whose_platform_is_killed_is_ended_by_the_next_start_and_billed_once_up_to_the_last_confirmation()
    {
        await _lab.StartPlatformAsync("first");
        var call = await _lab.ConnectedCallAsync();
        // Longer than what a kill may forget plus the default no-charge threshold (10 s), so a charge remains.
        await Task.Delay(TimeSpan.FromSeconds(28));

        _lab.KillPlatform();
        // The apps see their sockets close and are gone for good (closed tabs).
        await call.Student.LeaveAsync();
        await call.Teacher.LeaveAsync();
        var lastTwoWay = call.LastTwoWay!.Value;
        await _lab.StartPlatformAsync("next");
        var ended = await _lab.EndedAsync(call, FaultLab.Grace + TimeSpan.FromSeconds(20));

        Assert.Equal((CallState.Ended, "connection_lost"), (ended.State, ended.EndReason));
        _lab.Log($"last two-way confirmation {lastTwoWay:HH:mm:ss.fff}, ended {ended.EndedAt:HH:mm:ss.fff}");
        // The grace counts from the last confirmation the platform wrote down, at most a heartbeat before the clients' last.
        Assert.InRange(ended.EndedAt!.Value, lastTwoWay + FaultLab.Grace - FaultLab.UnwrittenAtKill, lastTwoWay + FaultLab.Grace + FaultLab.Bound);
        await _lab.AssertHonestBillingAsync("SIGKILL, restart at once, clients never back", call, ended, FaultLab.UnwrittenAtKill);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
