using Callern.Platform.Infrastructure;
using Npgsql;

namespace Callern.Platform.Wallets;

/// <summary>
/// Holds for calls, used by the calls feature: reserve seconds when a call is accepted, extend the
/// reservation while it runs, and settle it when it ends (one charge, the rest released, the
/// teacher credited). Every method is idempotent by call id, and each may run inside the caller's
/// transaction (pass it) so that, for example, a call's end and its settlement commit together.
/// Lock order: whatever the caller locked first, then the student's wallet row.
/// </summary>
public sealed class CallHolds(NpgsqlDataSource db, TimeProvider time)
{
    private const string HoldColumns =
        "call_id, student_id, state, held_seconds, charged_seconds, released_seconds, teacher_id, created_at, ended_at";

    /// <summary>
    /// Reserves up to <paramref name="upToSeconds"/> of the student's spendable seconds for the call
    /// and returns the hold; <c>HeldSeconds</c> is what was granted (possibly 0, never more than the
    /// balance). A second call for the same call id changes nothing and returns the existing hold.
    /// </summary>
    public Task<CallHold> HoldAsync(Guid tenantId, string studentId, Guid callId, long upToSeconds, NpgsqlTransaction? transaction = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(upToSeconds);
        return InTransaction(transaction, async (connection, tx) =>
        {
            var now = time.GetUtcNow().ToDatabasePrecision();
            HoldRow? created;
            await using (var results = await connection.QueryResultsAsync(
                $"""
                {WalletSql.EnsureAndLock}
                INSERT INTO wallet_holds (tenant_id, call_id, student_id, state, created_at)
                VALUES (@tenantId, @callId, @studentId, 'active', @now) ON CONFLICT DO NOTHING
                RETURNING {HoldColumns}
                """,
                new { tenantId, callId, studentId, now }, tx))
            {
                await results.ReadAsync<int>();
                created = await results.ReadSingleOrDefaultAsync<HoldRow>();
            }
            return created is null ? (await FindAsync(connection, tx, tenantId, callId))!
                : upToSeconds > 0 ? await TakeAsync(connection, tx, tenantId, studentId, callId, upToSeconds, now)
                : created.ToHold();
        });
    }

    /// <summary>
    /// For a caller's own batch of statements: a row (call id, held seconds, the wallet's available
    /// seconds) for the active hold of each of the calls <c>@callIds</c> of the tenants <c>@tenantIds</c>
    /// (two arrays in step: the i-th call is the i-th tenant's), without a lock. A hold at its cap, or
    /// with nothing left in the wallet, cannot grow: <see cref="ExtendAsync"/> can be skipped.
    /// Each call's hold and wallet are looked up by their keys (a lateral subquery that <c>OFFSET 0</c>
    /// keeps from being flattened), whatever the statistics say: while a fresh platform's holds grew
    /// faster than they were analyzed, PostgreSQL joined them by tenant alone, seconds per tick.
    /// </summary>
    public const string RoomSql =
        """
        SELECT c.id, hw.held_seconds, hw.available_seconds FROM unnest(@tenantIds, @callIds) c(tenant_id, id)
        CROSS JOIN LATERAL (
            SELECT h.held_seconds, w.available_seconds FROM wallet_holds h
            JOIN wallets w ON w.tenant_id = h.tenant_id AND w.student_id = h.student_id
            WHERE h.tenant_id = c.tenant_id AND h.call_id = c.id AND h.state = 'active'
            OFFSET 0) hw
        """;

    /// <summary>
    /// Raises an active hold to at most <paramref name="toTotalSeconds"/> in all (a top-up during the
    /// call lets it go on). Asking for the same total twice grants once. Null for an unknown call; a
    /// settled or released hold is returned unchanged.
    /// </summary>
    public Task<CallHold?> ExtendAsync(Guid tenantId, Guid callId, long toTotalSeconds, NpgsqlTransaction? transaction = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(toTotalSeconds);
        return InTransaction(transaction, async (connection, tx) =>
        {
            if (await LockAsync(connection, tx, tenantId, callId) is not { } hold)
            {
                return null;
            }
            if (hold.State != HoldState.Active || hold.HeldSeconds >= toTotalSeconds)
            {
                return hold;
            }
            return await TakeAsync(connection, tx, tenantId, hold.StudentId, callId, toTotalSeconds - hold.HeldSeconds, time.GetUtcNow().ToDatabasePrecision());
        });
    }

    /// <summary>
    /// Ends the call's hold with one charge of <c>min(billedSeconds, held)</c>, returns the rest to
    /// the lots it came from, and credits the charged seconds to the teacher's earnings. Settling
    /// again (or after a release) changes nothing and returns the hold as it ended. Null for an
    /// unknown call. The wallet never charges more than was held: extend the hold as the call runs.
    /// </summary>
    public Task<CallHold?> SettleAsync(Guid tenantId, Guid callId, long billedSeconds, string teacherId, NpgsqlTransaction? transaction = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(billedSeconds);
        return EndAsync(tenantId, callId, billedSeconds, teacherId, transaction);
    }

    /// <summary>Ends the call's hold without a charge (the call never connected); idempotent like <see cref="SettleAsync"/>.</summary>
    public Task<CallHold?> ReleaseAsync(Guid tenantId, Guid callId, NpgsqlTransaction? transaction = null) =>
        EndAsync(tenantId, callId, null, null, transaction);

    public async Task<CallHold?> FindAsync(Guid tenantId, Guid callId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await FindAsync(connection, null, tenantId, callId);
    }

    private Task<CallHold?> EndAsync(Guid tenantId, Guid callId, long? billedSeconds, string? teacherId, NpgsqlTransaction? transaction) =>
        InTransaction(transaction, async (connection, tx) =>
        {
            if (await LockAsync(connection, tx, tenantId, callId) is not { } hold)
            {
                return null;
            }
            var studentId = hold.StudentId;
            if (hold.State != HoldState.Active)
            {
                return hold;
            }
            var settle = billedSeconds is not null;
            var charge = Math.Min(billedSeconds ?? 0, hold.HeldSeconds);
            // Charge the hold's lots earliest-expiring first; give back the rest to lots still valid,
            // and let what belongs to a lot that expired during the call leave through an expiry entry.
            var ended = await connection.QuerySingleRowAsync<HoldRow>(
                $"""
                WITH allocations AS (
                    SELECT hl.lot_id, hl.seconds, l.expired_at IS NOT NULL AS expired,
                           sum(hl.seconds) OVER (ORDER BY l.expires_at NULLS LAST, hl.lot_id) - hl.seconds AS before
                    FROM wallet_hold_lots hl JOIN wallet_lots l ON l.tenant_id = hl.tenant_id AND l.id = hl.lot_id
                    WHERE hl.tenant_id = @tenantId AND hl.call_id = @callId AND hl.seconds > 0),
                parts AS (
                    SELECT lot_id, expired, seconds, least(seconds, greatest(@charge - before, 0))::bigint AS charged FROM allocations),
                lots AS (
                    UPDATE wallet_lots l
                    SET held_seconds = l.held_seconds - p.seconds,
                        remaining_seconds = l.remaining_seconds + CASE WHEN p.expired THEN 0 ELSE p.seconds - p.charged END
                    FROM parts p WHERE l.tenant_id = @tenantId AND l.id = p.lot_id),
                returned AS (
                    SELECT coalesce(sum(seconds - charged) FILTER (WHERE NOT expired), 0)::bigint AS seconds FROM parts),
                entries AS (
                    INSERT INTO wallet_entries (tenant_id, student_id, kind, available_delta, held_delta, lot_id, call_id, created_at)
                    SELECT @tenantId, @studentId, 'charge', 0, -@charge, NULL::uuid, @callId, @now WHERE @settle
                    UNION ALL
                    SELECT @tenantId, @studentId, 'release', seconds, -seconds, NULL::uuid, @callId, @now FROM returned WHERE seconds > 0
                    UNION ALL
                    SELECT @tenantId, @studentId, 'expiry', 0, -(seconds - charged), lot_id, @callId, @now FROM parts
                    WHERE expired AND seconds > charged),
                wallet AS (
                    UPDATE wallets w SET held_seconds = w.held_seconds - @held, available_seconds = w.available_seconds + r.seconds
                    FROM returned r WHERE w.tenant_id = @tenantId AND w.student_id = @studentId),
                earnings AS (
                    INSERT INTO teacher_earnings (tenant_id, call_id, teacher_id, student_id, seconds, earned_at)
                    SELECT @tenantId, @callId, @teacherId, @studentId, @charge, @now WHERE @settle)
                UPDATE wallet_holds SET state = @state, held_seconds = 0, charged_seconds = @charge, released_seconds = @held - @charge,
                                        teacher_id = @teacherId, ended_at = @now
                WHERE tenant_id = @tenantId AND call_id = @callId
                RETURNING {HoldColumns}
                """,
                new
                {
                    tenantId, callId, studentId, charge, settle, teacherId, held = hold.HeldSeconds,
                    state = settle ? "settled" : "released", now = time.GetUtcNow().ToDatabasePrecision(),
                },
                tx);
            return ended.ToHold();
        });

    /// <summary>Takes up to <paramref name="want"/> spendable seconds into the hold, earliest-expiring lots first.</summary>
    private static async Task<CallHold> TakeAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, Guid tenantId, string studentId, Guid callId, long want, DateTimeOffset now) =>
        (await connection.QuerySingleRowAsync<HoldRow>(
            $"""
            WITH {WalletSql.Takes},
            taken AS (
                UPDATE wallet_lots l SET remaining_seconds = l.remaining_seconds - t.take, held_seconds = l.held_seconds + t.take
                FROM takes t WHERE l.tenant_id = @tenantId AND l.id = t.id
                RETURNING l.id, t.take),
            hold_lots AS (
                INSERT INTO wallet_hold_lots (tenant_id, call_id, lot_id, seconds)
                SELECT @tenantId, @callId, id, take FROM taken
                ON CONFLICT (tenant_id, call_id, lot_id) DO UPDATE SET seconds = wallet_hold_lots.seconds + excluded.seconds),
            total AS (SELECT coalesce(sum(take), 0)::bigint AS seconds FROM taken),
            entry AS (
                INSERT INTO wallet_entries (tenant_id, student_id, kind, available_delta, held_delta, call_id, created_at)
                SELECT @tenantId, @studentId, 'hold', -seconds, seconds, @callId, @now FROM total WHERE seconds > 0),
            wallet AS (
                UPDATE wallets w SET available_seconds = w.available_seconds - t.seconds, held_seconds = w.held_seconds + t.seconds
                FROM total t WHERE w.tenant_id = @tenantId AND w.student_id = @studentId AND t.seconds > 0)
            UPDATE wallet_holds h SET held_seconds = h.held_seconds + t.seconds
            FROM total t WHERE h.tenant_id = @tenantId AND h.call_id = @callId
            RETURNING {HoldColumns}
            """,
            new { tenantId, studentId, callId, want, now }, tx)).ToHold();

    /// <summary>
    /// Locks the wallet of the call's student and then reads the hold, in one round trip: the read
    /// is a statement of its own, so it sees the hold as the last holder of the lock left it.
    /// Null when the tenant has no hold for this call.
    /// </summary>
    private static async Task<CallHold?> LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid tenantId, Guid callId)
    {
        await using var results = await connection.QueryResultsAsync(
            $"""
            SELECT w.student_id FROM wallets w
            WHERE w.tenant_id = @tenantId
              AND w.student_id = (SELECT student_id FROM wallet_holds WHERE tenant_id = @tenantId AND call_id = @callId)
            FOR UPDATE;
            SELECT {HoldColumns} FROM wallet_holds WHERE tenant_id = @tenantId AND call_id = @callId;
            """,
            new { tenantId, callId }, tx);
        var locked = await results.ReadSingleOrDefaultAsync<string>();
        var hold = await results.ReadSingleOrDefaultAsync<HoldRow>();
        return locked is null ? null : hold!.ToHold();
    }

    private static async Task<CallHold?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, Guid tenantId, Guid callId)
    {
        var row = await connection.QuerySingleRowOrDefaultAsync<HoldRow>(
            $"SELECT {HoldColumns} FROM wallet_holds WHERE tenant_id = @tenantId AND call_id = @callId", new { tenantId, callId }, tx);
        return row?.ToHold();
    }

    private async Task<T> InTransaction<T>(NpgsqlTransaction? outer, Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work)
    {
        if (outer is not null)
        {
            return await work(outer.Connection!, outer);
        }
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var result = await work(connection, transaction);
        await transaction.CommitAsync();
        return result;
    }

    private sealed record HoldRow(
        Guid CallId, string StudentId, string State, long HeldSeconds, long ChargedSeconds, long ReleasedSeconds, string? TeacherId,
        DateTime CreatedAt, DateTime? EndedAt)
    {
        public CallHold ToHold() => new(
            CallId, StudentId, WalletStore.ParseEnum<HoldState>(State), HeldSeconds, ChargedSeconds, ReleasedSeconds, TeacherId,
            CreatedAt.AsUtc(), EndedAt?.AsUtc());
    }
}
