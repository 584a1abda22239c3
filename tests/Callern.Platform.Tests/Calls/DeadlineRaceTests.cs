using Callern.Platform.Calls;
using Callern.Platform.Tests.Infrastructure;
using Dapper;
using Npgsql;

namespace Callern.Platform.Tests.Calls;

public sealed class DeadlineRaceTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task A_deadline_firing_while_a_request_holds_the_call_waits_for_it_without_deadlock_and_ends_the_call_once()
    {
        await using var pair = await app.PairAsync(300);
        var (_, student, teacher) = pair;
        var callId = await CallTestKit.AcceptedCallAsync(student, teacher);

        // A request holds the call row (as ending does) when the setup timeout falls due and a
        // sweeper (the app's own, woken by the clock, or this one) fires it.
        await using var request = new NpgsqlConnection(app.Database.ConnectionString);
        await request.OpenAsync();
        await using var transaction = await request.BeginTransactionAsync();
        await request.ExecuteAsync("SELECT 1 FROM calls WHERE id = @Id FOR UPDATE", new { Id = callId }, transaction);
        app.Clock.Advance(TimeSpan.FromSeconds(61));
        var sweep = app.FireDueAsync();
        await WaitUntilClaimedAsync(callId);
        // Then it removes the call's deadlines, as ending does: no sweeper holds a lock on them.
        var removed = await request.ExecuteAsync("DELETE FROM deadlines WHERE subject_id = @Id", new { Id = callId }, transaction);
        await transaction.CommitAsync();
        await sweep;

        Assert.Equal(1, removed);
        var ended = await student.NextAsync<CallEndedEvent>("CallEnded");
        Assert.Equal(EndReasons.SetupFailed, ended.Reason);
        Assert.Equal(0, await app.FireDueAsync());
        Assert.False(student.Has("CallEnded"));
    }

    private async Task WaitUntilClaimedAsync(Guid callId)
    {
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await connection.ExecuteScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM deadlines WHERE kind = @kind AND subject_id = @callId AND due_at > @now)",
            new { kind = CallDeadlines.SetupTimeout, callId, now = app.Clock.GetUtcNow() }))
        {
            Assert.True(DateTime.UtcNow < deadline, "The sweeper never claimed the due setup timeout.");
            await Task.Delay(20);
        }
    }
}
