using Dapper;
using Npgsql;

namespace Callern.Platform.Wallets;

/// <summary>
/// The locking discipline every writer of a wallet follows: lock the wallets row first, then touch
/// its lots, holds and entries. Under READ COMMITTED each later statement sees everything committed
/// before the lock was granted, and nobody else can change this wallet until commit, so the
/// statements after the lock may read and write without another round trip.
/// </summary>
internal static class WalletSql
{
    /// <summary>
    /// Locks the student's wallet, creating it at zero on first use (a concurrent creator makes the
    /// insert wait, then do nothing). Two statements, one round trip; the lock returns one row, so
    /// a batch that starts with this reads past one result set.
    /// </summary>
    public const string EnsureAndLock = """
        INSERT INTO wallets (tenant_id, student_id, created_at) VALUES (@tenantId, @studentId, @now) ON CONFLICT DO NOTHING;
        SELECT 1 FROM wallets WHERE tenant_id = @tenantId AND student_id = @studentId FOR UPDATE;
        """;

    public static Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, string studentId, DateTimeOffset now) =>
        connection.ExecuteAsync(EnsureAndLock, new { tenantId, studentId, now }, transaction);

    /// <summary>
    /// The lots seconds are taken from, earliest expiry first (never-expiring lots last), with the
    /// seconds taken from each so that the first @want seconds are covered. Lots past their expiry
    /// that the sweeper has not reached yet are skipped: their seconds are gone.
    /// </summary>
    public const string Takes = """
        candidates AS (
            SELECT id, remaining_seconds,
                   sum(remaining_seconds) OVER (ORDER BY expires_at NULLS LAST, id) - remaining_seconds AS before
            FROM wallet_lots
            WHERE tenant_id = @tenantId AND student_id = @studentId AND expired_at IS NULL AND remaining_seconds > 0
              AND (expires_at IS NULL OR expires_at > @now)),
        takes AS (
            SELECT id, least(remaining_seconds, @want - before)::bigint AS take FROM candidates WHERE before < @want)
        """;

    /// <summary>Seconds that can be spent now: the available balance less lots already past expiry.</summary>
    public const string Spendable = """
        SELECT coalesce(sum(remaining_seconds), 0)::bigint FROM wallet_lots
        WHERE tenant_id = @tenantId AND student_id = @studentId AND expired_at IS NULL AND remaining_seconds > 0
          AND (expires_at IS NULL OR expires_at > @now)
        """;
}
