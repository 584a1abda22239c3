using Dapper;
using Npgsql;

namespace Callern.Platform.Infrastructure;

/// <summary>A due deadline as its handler receives it.</summary>
public sealed record Deadline(string Kind, Guid SubjectId, Guid TenantId, DateTimeOffset DueAt);

/// <summary>
/// The transaction a deadline's handler runs in. Effects inside it commit together with the
/// deadline's removal; <see cref="AfterCommit"/> actions (notifications) run only once it did.
/// </summary>
public sealed class DeadlineContext(NpgsqlConnection connection, NpgsqlTransaction transaction)
{
    private readonly List<Func<Task>> _afterCommit = [];
    public NpgsqlConnection Connection { get; } = connection;
    public NpgsqlTransaction Transaction { get; } = transaction;
    public void AfterCommit(Func<Task> action) => _afterCommit.Add(action);
    internal IReadOnlyList<Func<Task>> Pending => _afterCommit;

    /// <summary>Fire this deadline again at <paramref name="dueAt"/> instead of removing it (a repeating timer).</summary>
    public void Reschedule(DateTimeOffset dueAt) => RescheduledTo = dueAt;
    internal DateTimeOffset? RescheduledTo { get; private set; }
}

/// <summary>Handles one kind of deadline. Must tolerate a deadline whose subject already moved on.</summary>
public interface IDeadlineHandler
{
    string Kind { get; }
    Task HandleAsync(Deadline deadline, DeadlineContext context);
}

/// <summary>Schedules, cancels and fires durable deadlines (see 0005_deadlines.sql).</summary>
public sealed class Deadlines(NpgsqlDataSource db, IEnumerable<IDeadlineHandler> handlers, TimeProvider time, ILogger<Deadlines> logger)
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(30);
    public const int ClaimBatch = 8;
    private readonly Dictionary<string, IDeadlineHandler> _handlers = handlers.ToDictionary(h => h.Kind, StringComparer.Ordinal);

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

    /// <summary>
    /// Fires every deadline due now, one transaction each, and returns how many fired. Safe to run
    /// on every node at once. Deadlines are first claimed, up to <see cref="ClaimBatch"/> in one
    /// statement (their due time moved one <see cref="RetryDelay"/> ahead, committed at once, so no
    /// lock is held); each handler then runs and removes (or reschedules) its claimed row in one
    /// transaction. Claiming without holding the row keeps one lock order everywhere (the subject,
    /// such as the call row, before its deadlines): a handler locking the call while a request
    /// holding that call waits on the deadline row would deadlock. If the node dies or the handler
    /// fails, the claim lapses and the deadline fires again after <see cref="RetryDelay"/>, so one
    /// failing deadline cannot block the others.
    /// </summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken = default)
    {
        var fired = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await using var connection = await db.OpenConnectionAsync(cancellationToken);
            var claimedUntil = (time.GetUtcNow() + RetryDelay).ToDatabasePrecision();
            var rows = (await connection.QueryAsync<DeadlineRow>(
                """
                WITH due AS (
                    SELECT kind, subject_id, due_at FROM deadlines WHERE due_at <= @now ORDER BY due_at LIMIT @ClaimBatch FOR UPDATE SKIP LOCKED)
                UPDATE deadlines d SET due_at = @claimedUntil FROM due
                WHERE d.kind = due.kind AND d.subject_id = due.subject_id
                RETURNING d.kind, d.subject_id, d.tenant_id, due.due_at
                """,
                new { now = time.GetUtcNow(), claimedUntil, ClaimBatch })).OrderBy(r => r.DueAt).ToList();
            if (rows.Count == 0)
            {
                return fired;
            }
            foreach (var row in rows)
            {
                if (await FireAsync(connection, new Deadline(row.Kind, row.SubjectId, row.TenantId, row.DueAt.AsUtc()), claimedUntil, cancellationToken))
                {
                    fired++;
                }
            }
        }
        return fired;
    }

    private async Task<bool> FireAsync(NpgsqlConnection connection, Deadline deadline, DateTimeOffset claimedUntil, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var context = new DeadlineContext(connection, transaction);
        try
        {
            if (_handlers.TryGetValue(deadline.Kind, out var handler))
            {
                await handler.HandleAsync(deadline, context);
            }
            else
            {
                logger.LogError("No handler for deadline kind {Kind}; dropped", deadline.Kind);
            }
            // Unless anyone set it anew since the claim.
            await connection.ExecuteAsync(
                context.RescheduledTo is null
                    ? "DELETE FROM deadlines WHERE kind = @Kind AND subject_id = @SubjectId AND due_at = @claimedUntil"
                    : "UPDATE deadlines SET due_at = @RescheduledTo WHERE kind = @Kind AND subject_id = @SubjectId AND due_at = @claimedUntil",
                new { deadline.Kind, deadline.SubjectId, claimedUntil, context.RescheduledTo }, transaction);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "Deadline {Kind} {SubjectId} failed; retrying in {Delay}", deadline.Kind, deadline.SubjectId, RetryDelay);
            await transaction.RollbackAsync(CancellationToken.None);
            return false;
        }
        foreach (var action in context.Pending)
        {
            await action();
        }
        return true;
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
/// per sweep). <see cref="Workers"/> parallel loops leave a core to the signal relay; a sweep that
/// found more than <see cref="Backlog"/> deadlines runs <see cref="WorkersWhenBehind"/> next, so
/// that thousands of calls' ticks keep up.
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
