using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// Issue 17: the student's hub connection goes silent (no FIN, no close frame: a laptop lid) while
/// media between the two browsers, on its own path, still flows. The student's confirmations stop
/// reaching the platform: billing pauses at the last one, not when a timeout notices 30 s later,
/// and the grace counts from it. The connection never comes back: the call ends connection_lost at
/// last confirmed + grace.
/// </summary>
public sealed class SilentSocketTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task A_silent_student_connection_pauses_billing_at_its_last_confirmation_and_ends_the_call_after_the_grace()
    {
        await _lab.StartPlatformAsync("platform");
        var studentPath = _lab.Own(FaultProxy.Start(_lab.BaseAddress.Port));
        var call = await _lab.ConnectedCallAsync(new Uri($"http://127.0.0.1:{studentPath.Port}/"));
        await Task.Delay(TimeSpan.FromSeconds(20)); // well above the 10 s a connection_lost call may stay unbilled, at a 4 s cadence

        studentPath.Silence();
        _lab.Log("the student's connection goes silent");
        var ended = await _lab.EndedAsync(call, FaultLab.Grace + TimeSpan.FromSeconds(25));

        Assert.Equal((CallState.Ended, "connection_lost"), (ended.State, ended.EndReason));
        var lastTwoWay = call.LastTwoWay!.Value;
        _lab.Log($"last two-way confirmation {lastTwoWay:HH:mm:ss.fff}, ended {ended.EndedAt:HH:mm:ss.fff} ({(ended.EndedAt!.Value - lastTwoWay).TotalSeconds:F1} s later)");
        // The teacher, still connected, heard "reconnecting" within a lapse of the last confirmation (the
        // platform takes a party as lapsed 9 s after it), not when SignalR's 30 s timeout fired, and when the grace ends.
        var (heardAt, paused) = Assert.Single(call.Teacher.PeerConnectionLog, e => !e.Event.Connected);
        _lab.Log($"the teacher heard 'reconnecting' {(heardAt - lastTwoWay).TotalSeconds:F1} s after the student's last confirmation");
        Assert.InRange(heardAt, lastTwoWay, lastTwoWay + Callern.Platform.Calls.MediaConfirmationRules.LapseAfter + FaultLab.Bound);
        Assert.InRange(paused.GraceEndsAt!.Value, lastTwoWay + FaultLab.Grace - FaultLab.Bound, lastTwoWay + FaultLab.Grace + FaultLab.Bound);
        Assert.InRange(ended.EndedAt.Value, lastTwoWay + FaultLab.Grace - FaultLab.Bound, lastTwoWay + FaultLab.Grace + FaultLab.Bound);
        await _lab.AssertHonestBillingAsync("silent student connection (no FIN), never back", call, ended);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
