using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// Issue 17: the platform process is killed (SIGKILL: no disconnect handler, no last write) and
/// started again at once on the same port (within 5 s on an idle machine; the test logs how long it took); the apps reconnect as the SDK does, rejoin the live
/// call and confirm media again. Media kept flowing between the browsers meanwhile, but nobody
/// confirmed it to a platform: the outage must not be billed, and the lesson goes on.
/// </summary>
public sealed class PlatformKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task Killed_and_restarted_at_once_the_call_goes_on_and_the_outage_is_not_billed()
    {
        await _lab.StartPlatformAsync("first");
        var call = await _lab.ConnectedCallAsync();
        // Longer than what a kill may forget plus the default no-charge threshold (10 s), so a charge remains.
        await Task.Delay(TimeSpan.FromSeconds(28));

        _lab.KillPlatform();
        var killedAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(1));
        await _lab.StartPlatformAsync("second");
        _lab.Log($"restarted {(DateTimeOffset.UtcNow - killedAt).TotalSeconds:F1} s after the kill");
        // The SDK's backoff (0, 1, 2, 5 s, …) finds the new process; LiveCall → RejoinCall; confirmations bill again.
        await Polling.EventuallyAsync(() => Task.FromResult(call.BillingSince(killedAt)), done => done, TimeSpan.FromSeconds(30));
        Assert.True(call.BillingSince(killedAt), "both apps confirm media to the new process and it bills again");
        await Task.Delay(TimeSpan.FromSeconds(8));

        await call.Student.Client.EndCallAsync(call.CallId);
        var ended = await _lab.EndedAsync(call, TimeSpan.FromSeconds(10));

        Assert.Equal((CallState.Ended, "completed"), (ended.State, ended.EndReason));
        await _lab.AssertHonestBillingAsync("SIGKILL, restart at once, clients reconnect", call, ended, FaultLab.UnwrittenAtKill);
    }


    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
