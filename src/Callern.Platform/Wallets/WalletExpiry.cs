using Callern.Platform.Infrastructure;
using Callern.Platform.Webhooks;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Callern.Platform.Wallets;

public sealed class WalletOptions
{
    /// <summary>
    /// How often this node looks for lots past their expiry (1 to 3600). 0 turns this node's sweeper
    /// off, for nodes that leave sweeping to others; at least one node must sweep.
    /// </summary>
    public int ExpirySweepSeconds { get; set; } = 5;
}

/// <summary>
/// Expires lots whose time has come: each due lot's remaining seconds leave the wallet through an
/// expiry entry. Any number of nodes may sweep at once: a pass claims the wallets of due lots with
/// FOR UPDATE SKIP LOCKED (a wallet another node or a live transaction holds is left for the next
/// pass) and re-reads the lots after the lock, so a lot expires once however often passes run.
/// Seconds a live call holds when their lot expires are not touched: the call was accepted while
/// they were valid and may use them; what it does not use expires when the call ends (see
/// <see cref="CallHolds.SettleAsync"/>).
/// </summary>
public sealed class WalletExpiry(NpgsqlDataSource db, EventOutbox outbox, TimeProvider time)
{
    private const int WalletsPerBatch = 200;

    /// <summary>Expires every lot due now; returns how many lots expired.</summary>
    public async Task<int> ExpireDueAsync(CancellationToken cancellationToken = default)
    {
        var total = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var (expired, claimedWallets) = await ExpireBatchAsync(cancellationToken);
            total += expired;
            if (claimedWallets < WalletsPerBatch)
            {
                return total;
            }
        }
        return total;
    }

    private async Task<(int Expired, int ClaimedWallets)> ExpireBatchAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToDatabasePrecision();
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var wallets = await connection.QueryRowsAsync<(Guid TenantId, string StudentId)>(
            """
            SELECT w.tenant_id, w.student_id FROM wallets w
            WHERE (w.tenant_id, w.student_id) IN (
                SELECT tenant_id, student_id FROM wallet_lots
                WHERE expired_at IS NULL AND expires_at <= @now
                ORDER BY expires_at LIMIT @WalletsPerBatch)
            FOR UPDATE OF w SKIP LOCKED
            """,
            new { now, WalletsPerBatch }, transaction);
        if (wallets.Count == 0)
        {
            return (0, 0);
        }
        // Read after the locks: a lot another pass expired meanwhile is no longer due here.
        var expired = await connection.QueryRowsAsync<ExpiredLot>(
            """
            WITH due AS (
                SELECT l.tenant_id, l.id, l.student_id, l.remaining_seconds FROM wallet_lots l
                JOIN unnest(@tenants, @students) AS w (tenant_id, student_id)
                  ON l.tenant_id = w.tenant_id AND l.student_id = w.student_id
                WHERE l.expired_at IS NULL AND l.expires_at <= @now),
            lots AS (
                UPDATE wallet_lots l SET remaining_seconds = 0, expired_at = @now
                FROM due WHERE l.tenant_id = due.tenant_id AND l.id = due.id),
            entries AS (
                INSERT INTO wallet_entries (tenant_id, student_id, kind, available_delta, held_delta, lot_id, created_at)
                SELECT tenant_id, student_id, 'expiry', -remaining_seconds, 0, id, @now FROM due WHERE remaining_seconds > 0),
            totals AS (
                UPDATE wallets w SET available_seconds = w.available_seconds - d.seconds
                FROM (SELECT tenant_id, student_id, sum(remaining_seconds)::bigint AS seconds FROM due GROUP BY tenant_id, student_id) d
                WHERE w.tenant_id = d.tenant_id AND w.student_id = d.student_id)
            SELECT tenant_id, student_id, id AS lot_id, remaining_seconds AS seconds FROM due
            """,
            new { now, tenants = wallets.Select(w => w.TenantId).ToArray(), students = wallets.Select(w => w.StudentId).ToArray() },
            transaction);
        foreach (var tenant in expired.Where(l => l.Seconds > 0).GroupBy(l => l.TenantId))
        {
            await outbox.AppendAsync(transaction, tenant.Key, tenant
                .Select(l => new EventDraft(EventTypes.WalletExpired, EventTypes.Wallet(l.StudentId), new LotExpired(l.StudentId, l.LotId, l.Seconds, now)))
                .ToList());
        }
        await transaction.CommitAsync(cancellationToken);
        return (expired.Count, wallets.Count);
    }
}

/// <summary>Runs <see cref="WalletExpiry"/> on every node at a fixed interval of the injected clock.</summary>
public sealed class WalletExpirySweeper(
    WalletExpiry expiry, TimeProvider time, IOptions<WalletOptions> options, ILogger<WalletExpirySweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.ExpirySweepSeconds <= 0)
        {
            logger.LogInformation("Wallet expiry sweeper is off on this node");
            return;
        }
        var interval = TimeSpan.FromSeconds(Math.Min(options.Value.ExpirySweepSeconds, 3600));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var expired = await expiry.ExpireDueAsync(stoppingToken);
                if (expired > 0)
                {
                    logger.LogInformation("Expired {Lots} wallet lots", expired);
                }
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException)
            {
                // The database may be briefly unreachable; the lots stay due and the next pass takes them.
                logger.LogWarning(exception, "Wallet expiry pass failed");
            }
            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

internal sealed record ExpiredLot(Guid TenantId, string StudentId, Guid LotId, long Seconds);
