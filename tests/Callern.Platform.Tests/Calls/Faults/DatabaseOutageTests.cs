using Callern.Sdk;
using Xunit.Abstractions;

namespace Callern.Platform.Tests.Calls.Faults;

/// <summary>
/// Issue 17: PostgreSQL is unavailable for 10 s (the proxy in front of it resets every connection
/// and refuses new ones) while the student drops. Nothing may depend on the database being up when
/// a socket closes: billing pauses at the student's last confirmation, and the call ends on time
/// (last confirmed + grace), not late. The shared test cluster itself is never stopped.
/// </summary>
public sealed class DatabaseOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FaultLab _lab = new(output);

    [Fact]
    public async Task A_participant_who_drops_while_the_database_is_away_is_billed_to_the_last_confirmation_and_the_call_ends_on_time()
    {
        await _lab.StartPlatformAsync("platform", databaseThroughProxy: true);
        var call = await _lab.ConnectedCallAsync();
        await Task.Delay(TimeSpan.FromSeconds(12));

        _lab.Log("PostgreSQL becomes unavailable");
        _lab.DatabaseProxy!.Cut();
        await call.Student.LeaveAsync();
        await Task.Delay(TimeSpan.FromSeconds(10));
        _lab.DatabaseProxy.Forward();
        _lab.Log("PostgreSQL is back");
        var ended = await _lab.EndedAsync(call, FaultLab.Grace + TimeSpan.FromSeconds(15));

        Assert.Equal((CallState.Ended, "connection_lost"), (ended.State, ended.EndReason));
        var lastTwoWay = call.LastTwoWay!.Value;
        _lab.Log($"last two-way confirmation {lastTwoWay:HH:mm:ss.fff}, ended {ended.EndedAt:HH:mm:ss.fff} ({(ended.EndedAt!.Value - lastTwoWay).TotalSeconds:F1} s later)");
        Assert.InRange(ended.EndedAt.Value, lastTwoWay + FaultLab.Grace - FaultLab.Bound, lastTwoWay + FaultLab.Grace + FaultLab.Bound);
        if (call.Teacher.PeerConnectionLog.FirstOrDefault(e => !e.Event.Connected) is { Event: not null } heard)
        {
            // Not asserted (billing is what this test guards): when the teacher's "reconnecting" banner showed.
            _lab.Log($"the teacher heard 'reconnecting' {(heard.ReceivedAt - lastTwoWay).TotalSeconds:F1} s after the student's last confirmation");
        }
        await _lab.AssertHonestBillingAsync("PostgreSQL unavailable for 10 s while the student drops", call, ended);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();
}
