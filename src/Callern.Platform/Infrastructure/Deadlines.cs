using Dapper;
using Npgsql;

namespace Callern.Platform.Infrastructure;

/// <summary>A due deadline as its handler receives it.</summary>
public sealed record Deadline(string Kind, Guid SubjectId, Guid TenantId, DateTimeOffset DueAt);

/// <summary>
/// The transaction a deadline's handler runs in. Effects inside it commit together with the
/// deadlines' removal; <see cref="AfterCommit"/> actions (notifications) run only once it did.
/// </summary>
public sealed class DeadlineContext(NpgsqlConnection connection, NpgsqlTransaction transaction)
{
    private readonly List<Func<Task>> _afterCommit = [];
    private readonly Dictionary<Deadline, DateTimeOffset> _rescheduled = [];
    public NpgsqlConnection Connection { get; } = connection;
    public NpgsqlTransaction Transaction { get; } = transaction;
    public void AfterCommit(Func<Task> action) => _afterCommit.Add(action);
    internal IReadOnlyList<Func<Task>> Pending => _afterCommit;

    /// <summary>Fire <paramref name="deadline"/> again at <paramref name="dueAt"/> instead of removing it (a repeating timer).</summary>
    public void Reschedule(Deadline deadline, DateTimeOffset dueAt) => _rescheduled[deadline] = dueAt;
    internal DateTimeOffset? RescheduledTo(Deadline deadline) => _rescheduled.TryGetValue(deadline, out var dueAt) ? dueAt : null;
}

/// <summary>Handles one kind of deadline. Must tolerate a deadline whose subject already moved on.</summary>
public interface IDeadlineHandler
{
    string Kind { get; }
    Task HandleAsync(Deadline deadline, DeadlineContext context);
}

/// <summary>
/// Handles one kind of frequent deadline many at a time: every due deadline of its kind in a claim
/// fires in one transaction (a call's tick, thousands a second, then costs a few statements per
/// sweep instead of a few per call). If the batch fails, each fires again on its own.
/// </summary>
public interface IDeadlineBatchHandler
{
    string Kind { get; }
    Task HandleAsync(IReadOnlyList<Deadline> deadlines, DeadlineContext context);
}

/// <summary>Schedules, cancels and fires durable deadlines (see 0005_deadlines.sql).</summary>
public sealed class Deadlines(
    NpgsqlDataSource db, IEnumerable<IDeadlineHandler> handlers, IEnumerable<IDeadlineBatchHandler> batchHandlers, TimeProvider time, ILogger<Deadlines> logger)
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(30);
    public const int ClaimBatch = 64;
    private readonly Dictionary<string, IDeadlineHandler> _handlers = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);
    private readonly Dictionary<string, IDeadlineBatchHandler> _batchHandlers = batchHandlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);

    /// <summary>Sets (or moves) the one deadline of this kind for the subject.</summary>
    public static Task ScheduleAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string kind, Guid subjectId, Guid tenantId, DateTimeOffset dueAt) =>
        connection.ExecuteAsync(
            """
            INSERT INTO deadlines (kind, subject_id, tenant_id, due_at) VALUES (@kind, @subjectId, @tenantId, @dueAt)
            ON CONFLICT (kind, subject_id) DO UPDATE SET due_at = excluded.due_at
            """,
            new { kind, subjectId, tenantId, dueAt }, transaction);

    public static Task CancelAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string kind, Guid subjectId) =>
        connection.ExecuteAsync("DELETE FROM deadlines WHERE kind = @kind AND subject_id = @subjectId", new { kind, subjectId }, transaction);

    /// <summary>Cancels every deadline of the subject, whatever its kind (the subject is gone).</summary>
    public static Task CancelAllAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid subjectId) =>
        connection.ExecuteAsync("DELETE FROM deadlines WHERE subject_id = @subjectId", new { subjectId }, transaction);

    /// <summary>
    /// For a caller's own batch of statements, where a deadline depends on what an earlier part of
    /// the same statement did: sets a deadline for each row of <paramref name="rows"/>, a
    /// <c>SELECT</c> of (kind, subject id, tenant id, due time); the statement returns each subject id.
    /// </summary>
    public static string ScheduleSql(string rows) => $"INSERT INTO deadlines (kind, subject_id, tenant_id, due_at) {rows} RETURNING subject_id";

    /// <summary>
    /// For a caller's own batch of statements: cancels the deadlines of kind <paramref name="kind"/>
    /// (an SQL expression) of the subjects <paramref name="subjects"/> (a <c>SELECT</c> of ids); the
    /// statement returns each subject id whose deadline it removed.
    /// </summary>
    public static string CancelSql(string kind, string subjects) => $"DELETE FROM deadlines WHERE kind = {kind} AND subject_id IN ({subjects}) RETURNING subject_id";

    /// <summary>
    /// Fires every deadline due when the sweep begins and returns how many fired. Safe to run on every node at once.
    /// Deadlines are first claimed, up to <see cref="ClaimBatch"/> in one statement (their due time
    /// moved one <see cref="RetryDelay"/> ahead, committed at once, so no lock is held). Each
    /// handler then runs and removes (or reschedules) its claimed rows in one transaction: one
    /// deadline per transaction, or for a kind with an <see cref="IDeadlineBatchHandler"/> all of
    /// that kind in the claim. Claiming without holding the row keeps one lock order everywhere
    /// (the subject, such as the call row, before its deadlines): a handler locking the call while
    /// a request holding that call waits on the deadline row would deadlock. If the node dies or
    /// the handler fails, the claim lapses and the deadline fires again after
    /// <see cref="RetryDelay"/>, so one failing deadline cannot block the others.
    /// </summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken = default)
    {
        // Only what was due when the sweep began: under a steady stream of deadlines a sweep that
        // kept claiming whatever fell due meanwhile never ended and fired a few at a time.
        var now = time.GetUtcNow();
        var fired = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var claimedUntil = (time.GetUtcNow() + RetryDelay).ToDatabasePrecision();
            var rows = (await connection.QueryRowsAsync<DeadlineRow>(
                """
                WITH due AS (
                    SELECT kind, subject_id, due_at FROM deadlines WHERE due_at <= @now ORDER BY due_at LIMIT @ClaimBatch FOR UPDATE SKIP LOCKED)
                UPDATE deadlines d SET due_at = @claimedUntil FROM due
                WHERE d.kind = due.kind AND d.subject_id = due.subject_id
                RETURNING d.kind, d.subject_id, d.tenant_id, due.due_at
                """,
                new { now, claimedUntil, ClaimBatch })).OrderBy(r => r.DueAt)
                .Select(r => new Deadline(r.Kind, r.SubjectId, r.TenantId, r.DueAt.AsUtc())).ToList();
            if (rows.Count == 0)
            {
                return fired;
            }
            // In due order; a batched kind fires all of its deadlines at the place of its first.
            foreach (var group in rows.GroupBy(r => _batchHandlers.ContainsKey(r.Kind) ? r.Kind : $"{r.Kind}/{r.SubjectId}"))
            {
                fired += await FireAsync(connection, [.. group], claimedUntil, cancellationToken);
            }
        }
        return fired;
    }

    /// <summary>Fires deadlines of one kind in one transaction; a batch that fails fires again one by one.</summary>
    private async Task<int> FireAsync(NpgsqlConnection connection, List<Deadline> deadlines, DateTimeOffset claimedUntil, CancellationToken cancellationToken)
    {
        var kind = deadlines[0].Kind;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var context = new DeadlineContext(connection, transaction);
        try
        {
            if (_batchHandlers.TryGetValue(kind, out var batchHandler))
            {
                await batchHandler.HandleAsync(deadlines, context);
            }
            else if (_handlers.TryGetValue(kind, out var handler))
            {
                await handler.HandleAsync(deadlines.Single(), context);
            }
            else
            {
                logger.LogError("No handler for deadline kind {Kind}; dropped", kind);
            }
            // Unless anyone set it anew since the claim.
            var next = deadlines.Select(d => (d.SubjectId, DueAt: context.RescheduledTo(d))).ToList();
            await connection.ExecuteAsync(
                """
                UPDATE deadlines d SET due_at = r.due_at FROM unnest(@rescheduled, @rescheduledTo) r(subject_id, due_at)
                WHERE d.kind = @kind AND d.subject_id = r.subject_id AND d.due_at = @claimedUntil;
                DELETE FROM deadlines WHERE kind = @kind AND subject_id = ANY(@done) AND due_at = @claimedUntil;
                """,
                new
                {
                    kind, claimedUntil, done = next.Where(n => n.DueAt is null).Select(n => n.SubjectId).ToArray(),
                    rescheduled = next.Where(n => n.DueAt is not null).Select(n => n.SubjectId).ToArray(),
                    rescheduledTo = next.Where(n => n.DueAt is not null).Select(n => n.DueAt!.Value).ToArray()
                },
                transaction);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            await transaction.RollbackAsync(CancellationToken.None);
            if (deadlines.Count > 1)
            {
                logger.LogWarning(exception, "A batch of {Count} {Kind} deadlines failed; firing them one by one", deadlines.Count, kind);
                var fired = 0;
                foreach (var deadline in deadlines)
                {
                    fired += await FireAsync(connection, [deadline], claimedUntil, cancellationToken);
                }
                return fired;
            }
            logger.LogError(exception, "Deadline {Kind} {SubjectId} failed; retrying in {Delay}", kind, deadlines[0].SubjectId, RetryDelay);
            return 0;
        }
        foreach (var action in context.Pending)
        {
            await action();
        }
        return deadlines.Count;
    }

    private sealed class DeadlineRow
    {
        public string Kind { get; init; } = "";
        public Guid SubjectId { get; init; }
        public Guid TenantId { get; init; }
        public DateTime DueAt { get; init; }
    }
}

/// <summary>
/// Runs <see cref="Deadlines.SweepOnceAsync"/> on every node ten times a second. Sweeping often
/// keeps each sweep's burst small (a thousand metering calls are two hundred ticks a second, twenty
/// per sweep, which fire in one transaction). <see cref="Workers"/> parallel loops leave a core to
/// the signal relay; a sweep that found more than <see cref="Backlog"/> deadlines runs
/// <see cref="WorkersWhenBehind"/> next, so that thousands of calls' ticks keep up.
/// </summary>
public sealed class DeadlineSweeper(Deadlines deadlines, TimeProvider time, ILogger<DeadlineSweeper> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    public const int Workers = 2;
    public const int WorkersWhenBehind = 4;
    public const int Backlog = 50;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        var workers = Workers;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var fired = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => deadlines.SweepOnceAsync(stoppingToken)));
                workers = fired.Sum() > Backlog ? WorkersWhenBehind : Workers;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // The database may be away for a moment; rows stay and fire on a later sweep.
                logger.LogError(exception, "Deadline sweep failed");
            }
        }
    }
}

public static class DeadlineServices
{
    public static IServiceCollection AddDeadlines(this IServiceCollection services) =>
        services.AddSingleton<Deadlines>().AddHostedService<DeadlineSweeper>();
}
