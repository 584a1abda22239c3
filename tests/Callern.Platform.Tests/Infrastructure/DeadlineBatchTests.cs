using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Callern.Platform.Tests.Infrastructure;

/// <summary>
/// A sweeper of its own, on the app's database and clock, with handlers of test kinds. The app's
/// sweeper runs only when the fake clock moves, which these tests never do.
/// </summary>
public sealed class DeadlineBatchTests(CallernApp app) : IClassFixture<CallernApp>
{
    private const string BatchKind = "test.batch";
    private const string SingleKind = "test.single";

    [Fact]
    public async Task Due_deadlines_of_a_batched_kind_fire_in_one_call_and_the_others_one_at_a_time()
    {
        var batched = await ScheduleDueAsync(BatchKind, 3);
        var singles = await ScheduleDueAsync(SingleKind, 2);
        var repeating = batched[0];
        var batch = new RecordingBatchHandler((deadlines, context) =>
            context.Reschedule(deadlines.Single(d => d.SubjectId == repeating), app.Clock.GetUtcNow().AddSeconds(5)));
        var single = new RecordingHandler();

        var fired = await Sweeper(batch, single).SweepOnceAsync();

        Assert.Equal(5, fired);
        Assert.Equal(batched.Order(), Assert.Single(batch.Calls).Order());
        Assert.Equal(singles.Order(), single.Fired.Order());
        Assert.Equal([(BatchKind, repeating, app.Clock.GetUtcNow().AddSeconds(5).ToDatabasePrecision())], await TakeRowsAsync());
    }

    [Fact]
    public async Task A_failing_batch_fires_again_one_by_one_and_only_the_failing_deadline_waits_for_its_retry()
    {
        var batched = await ScheduleDueAsync(BatchKind, 3);
        var failing = batched[1];
        var batch = new RecordingBatchHandler((deadlines, _) =>
        {
            if (deadlines.Count > 1 || deadlines[0].SubjectId == failing)
            {
                throw new InvalidOperationException("This batch fails.");
            }
        });

        var fired = await Sweeper(batch, new RecordingHandler()).SweepOnceAsync();

        Assert.Equal(2, fired);
        Assert.Equal([3, 1, 1, 1], batch.Calls.Select(c => c.Length));
        var claimedUntil = (app.Clock.GetUtcNow() + Deadlines.RetryDelay).ToDatabasePrecision();
        Assert.Equal([(BatchKind, failing, claimedUntil)], await TakeRowsAsync());
    }

    [Fact]
    public async Task A_deadline_that_falls_due_during_a_sweep_waits_for_the_next_sweep()
    {
        // A clock of this sweeper's own, which its handler moves on while the sweep runs.
        var clock = new FakeTimeProvider(app.Clock.GetUtcNow());
        var first = (await ScheduleDueAsync(SingleKind, 1)).Single();
        var later = (await ScheduleDueAsync(SingleKind, 1, dueIn: TimeSpan.FromSeconds(1))).Single();
        var single = new RecordingHandler(() => clock.Advance(TimeSpan.FromSeconds(2)));
        var sweeper = Sweeper(new RecordingBatchHandler((_, _) => { }), single, clock);

        Assert.Equal(1, await sweeper.SweepOnceAsync());
        Assert.Equal([first], single.Fired);

        Assert.Equal(1, await sweeper.SweepOnceAsync());
        Assert.Equal([first, later], single.Fired);
        Assert.Empty(await TakeRowsAsync());
    }

    private Deadlines Sweeper(IDeadlineBatchHandler batch, IDeadlineHandler single, TimeProvider? clock = null) =>
        new(app.Services.GetRequiredService<NpgsqlDataSource>(), [single], [batch], clock ?? app.Clock, NullLogger<Deadlines>.Instance);

    private async Task<Guid[]> ScheduleDueAsync(string kind, int count, TimeSpan? dueIn = null)
    {
        var tenant = await app.CreateTenantAsync();
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        await connection.OpenAsync();
        var subjects = Enumerable.Range(0, count).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var subject in subjects)
        {
            await Deadlines.ScheduleAsync(connection, null, kind, subject, tenant.Id, app.Clock.GetUtcNow() + (dueIn ?? TimeSpan.FromSeconds(-1)));
        }
        return subjects;
    }

    private async Task<List<(string Kind, Guid SubjectId, DateTimeOffset DueAt)>> TakeRowsAsync()
    {
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        var rows = await connection.QueryAsync<(string Kind, Guid SubjectId, DateTime DueAt)>(
            "DELETE FROM deadlines WHERE kind LIKE 'test.%' RETURNING kind, subject_id, due_at");
        return [.. rows.Select(r => (r.Kind, r.SubjectId, (DateTimeOffset)r.DueAt.AsUtc()))];
    }

    private sealed class RecordingBatchHandler(Action<IReadOnlyList<Deadline>, DeadlineContext> fire) : IDeadlineBatchHandler
    {
        public string Kind => BatchKind;
        public List<Guid[]> Calls { get; } = [];

        public Task HandleAsync(IReadOnlyList<Deadline> deadlines, DeadlineContext context)
        {
            Calls.Add([.. deadlines.Select(d => d.SubjectId)]);
            fire(deadlines, context);
            return Task.CompletedTask;
        }
    }

    private sealed class RecordingHandler(Action? fire = null) : IDeadlineHandler
    {
        public string Kind => SingleKind;
        public List<Guid> Fired { get; } = [];

        public Task HandleAsync(Deadline deadline, DeadlineContext context)
        {
            Fired.Add(deadline.SubjectId);
            fire?.Invoke();
            return Task.CompletedTask;
        }
    }
}
