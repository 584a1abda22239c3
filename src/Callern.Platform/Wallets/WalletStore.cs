using System.Data;
using Callern.Platform.Infrastructure;
using Callern.Platform.Webhooks;
using Dapper;
using Npgsql;

namespace Callern.Platform.Wallets;

public enum WriteStatus
{
    /// <summary>Done now.</summary>
    Done,
    /// <summary>Done before under the same Idempotency-Key; this is the stored answer.</summary>
    Replayed,
    /// <summary>The Idempotency-Key was used for a different request; nothing changed.</summary>
    KeyReused,
    /// <summary>The package is unknown or archived; nothing changed.</summary>
    PackageUnavailable,
    /// <summary>A debit larger than the spendable balance; nothing changed.</summary>
    InsufficientBalance,
}

/// <summary>The answer of an idempotent write: the value when done or replayed, else why not.</summary>
public sealed record WriteOutcome<T>(WriteStatus Status, T? Value, long SpendableSeconds = 0) where T : class;

/// <summary>Purchases, adjustments and reads of wallets. Holds for calls are in <see cref="CallHolds"/>.</summary>
public sealed class WalletStore(NpgsqlDataSource db, EventOutbox outbox, TimeProvider time)
{
    public static readonly TimeSpan ExpiringSoonWindow = TimeSpan.FromDays(7);

    /// <summary>Records a paid purchase of a package: a new lot of its minutes, expiring after its validity.</summary>
    public async Task<WriteOutcome<Purchase>> PurchaseAsync(
        Guid tenantId, string studentId, Guid packageId, string paymentReference, string idempotencyKey)
    {
        var now = time.GetUtcNow().ToDatabasePrecision();
        var fingerprint = Idempotency.Fingerprint(new { operation = "purchase", studentId, packageId, paymentReference });
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var claim = await Idempotency.ClaimAsync(connection, transaction, tenantId, idempotencyKey, fingerprint, now);
        if (!claim.Claimed)
        {
            return claim.SameRequest == true
                ? new(WriteStatus.Replayed, Idempotency.Replay<Purchase>(claim.Response!))
                : new(WriteStatus.KeyReused, null);
        }
        // FOR SHARE: an archive racing with this purchase waits, so nothing is sold after it was archived.
        var package = await connection.QuerySingleRowOrDefaultAsync<(Guid Id, string Name, int Minutes, decimal Price, string Currency, int? ValidityDays)>(
            """
            SELECT id, name, minutes, price, currency, validity_days FROM packages
            WHERE tenant_id = @tenantId AND id = @packageId AND archived_at IS NULL FOR SHARE
            """,
            new { tenantId, packageId }, transaction);
        if (package.Id == Guid.Empty)
        {
            return new(WriteStatus.PackageUnavailable, null);
        }
        await WalletSql.LockAsync(connection, transaction, tenantId, studentId, now);
        var purchase = new Purchase(
            Guid.CreateVersion7(now), studentId, package.Id, package.Name, package.Minutes * 60L, package.Price.Normalize(package.Currency),
            package.Currency, paymentReference, Guid.CreateVersion7(now),
            package.ValidityDays is { } days ? now.AddDays(days) : null, now);
        await connection.ExecuteAsync(
            """
            INSERT INTO wallet_lots (tenant_id, id, student_id, source, granted_seconds, remaining_seconds, expires_at, created_at)
            VALUES (@tenantId, @LotId, @StudentId, 'purchase', @Seconds, @Seconds, @ExpiresAt, @PurchasedAt);
            INSERT INTO wallet_purchases (tenant_id, id, student_id, package_id, package_name, seconds, price, currency,
                                          payment_reference, lot_id, expires_at, purchased_at)
            VALUES (@tenantId, @Id, @StudentId, @PackageId, @PackageName, @Seconds, @Price, @Currency,
                    @PaymentReference, @LotId, @ExpiresAt, @PurchasedAt);
            INSERT INTO wallet_entries (tenant_id, student_id, kind, available_delta, held_delta, lot_id, source_id, created_at)
            VALUES (@tenantId, @StudentId, 'purchase', @Seconds, 0, @LotId, @Id, @PurchasedAt);
            UPDATE wallets SET available_seconds = available_seconds + @Seconds WHERE tenant_id = @tenantId AND student_id = @StudentId;
            """,
            new
            {
                tenantId, purchase.Id, purchase.StudentId, purchase.PackageId, purchase.PackageName, purchase.Seconds, purchase.Price,
                purchase.Currency, purchase.PaymentReference, purchase.LotId, purchase.ExpiresAt, purchase.PurchasedAt,
            },
            transaction);
        await outbox.AppendAsync(transaction, tenantId, EventTypes.WalletPurchase, EventTypes.Wallet(studentId), purchase);
        await Idempotency.StoreAsync(connection, transaction, tenantId, idempotencyKey, purchase);
        await transaction.CommitAsync();
        return new(WriteStatus.Done, purchase);
    }

    public async Task<Purchase?> FindPurchaseAsync(Guid tenantId, string studentId, Guid purchaseId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<PurchaseRow>(
            """
            SELECT id, student_id, package_id, package_name, seconds, price, currency, payment_reference, lot_id, expires_at, purchased_at
            FROM wallet_purchases WHERE tenant_id = @tenantId AND student_id = @studentId AND id = @purchaseId
            """,
            new { tenantId, studentId, purchaseId });
        return row?.ToPurchase();
    }

    /// <summary>
    /// Grants (seconds &gt; 0, a new lot) or debits (seconds &lt; 0, earliest-expiring lots first).
    /// A debit larger than the spendable balance is refused; seconds held by live calls are not spendable.
    /// </summary>
    public async Task<WriteOutcome<Adjustment>> AdjustAsync(
        Guid tenantId, string studentId, long seconds, string reason, int? validityDays, string actor, string idempotencyKey)
    {
        var now = time.GetUtcNow().ToDatabasePrecision();
        var fingerprint = Idempotency.Fingerprint(new { operation = "adjustment", studentId, seconds, reason, validityDays });
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var claim = await Idempotency.ClaimAsync(connection, transaction, tenantId, idempotencyKey, fingerprint, now);
        if (!claim.Claimed)
        {
            return claim.SameRequest == true
                ? new(WriteStatus.Replayed, Idempotency.Replay<Adjustment>(claim.Response!))
                : new(WriteStatus.KeyReused, null);
        }
        await WalletSql.LockAsync(connection, transaction, tenantId, studentId, now);
        var id = Guid.CreateVersion7(now);
        Adjustment adjustment;
        if (seconds > 0)
        {
            adjustment = new Adjustment(id, studentId, seconds, reason, Guid.CreateVersion7(now),
                validityDays is { } days ? now.AddDays(days) : null, now);
            await connection.ExecuteAsync(
                """
                INSERT INTO wallet_lots (tenant_id, id, student_id, source, granted_seconds, remaining_seconds, expires_at, created_at)
                VALUES (@tenantId, @LotId, @StudentId, 'adjustment', @Seconds, @Seconds, @ExpiresAt, @CreatedAt);
                INSERT INTO wallet_entries (tenant_id, student_id, kind, available_delta, held_delta, lot_id, source_id, created_at)
                VALUES (@tenantId, @StudentId, 'adjustment', @Seconds, 0, @LotId, @Id, @CreatedAt);
                UPDATE wallets SET available_seconds = available_seconds + @Seconds WHERE tenant_id = @tenantId AND student_id = @StudentId;
                """,
                new { tenantId, adjustment.Id, adjustment.StudentId, adjustment.Seconds, adjustment.LotId, adjustment.ExpiresAt, adjustment.CreatedAt },
                transaction);
        }
        else
        {
            var spendable = await connection.ExecuteScalarAsync<long>(WalletSql.Spendable, new { tenantId, studentId, now }, transaction);
            if (-seconds > spendable)
            {
                return new(WriteStatus.InsufficientBalance, null, spendable);
            }
            adjustment = new Adjustment(id, studentId, seconds, reason, null, null, now);
            await connection.ExecuteAsync(
                $"""
                WITH {WalletSql.Takes}
                UPDATE wallet_lots l SET remaining_seconds = l.remaining_seconds - t.take
                FROM takes t WHERE l.tenant_id = @tenantId AND l.id = t.id;
                INSERT INTO wallet_entries (tenant_id, student_id, kind, available_delta, held_delta, source_id, created_at)
                VALUES (@tenantId, @studentId, 'adjustment', -@want, 0, @id, @now);
                UPDATE wallets SET available_seconds = available_seconds - @want WHERE tenant_id = @tenantId AND student_id = @studentId;
                """,
                new { tenantId, studentId, want = -seconds, id, now }, transaction);
        }
        await connection.ExecuteAsync(
            """
            INSERT INTO wallet_adjustments (tenant_id, id, student_id, seconds, reason, actor, lot_id, created_at)
            VALUES (@tenantId, @Id, @StudentId, @Seconds, @Reason, @actor, @LotId, @CreatedAt)
            """,
            new { tenantId, adjustment.Id, adjustment.StudentId, adjustment.Seconds, adjustment.Reason, actor, adjustment.LotId, adjustment.CreatedAt },
            transaction);
        await outbox.AppendAsync(transaction, tenantId, EventTypes.WalletAdjustment, EventTypes.Wallet(studentId), adjustment);
        await Idempotency.StoreAsync(connection, transaction, tenantId, idempotencyKey, adjustment);
        await transaction.CommitAsync();
        return new(WriteStatus.Done, adjustment);
    }

    /// <summary>The balance and open lots, read in one snapshot so the figures agree with each other.</summary>
    /// <summary>For a caller's own batch of statements: the available seconds of student <c>@studentId</c> of tenant <c>@tenantId</c> (no row: no wallet).</summary>
    public const string AvailableSecondsSql = "SELECT available_seconds FROM wallets WHERE tenant_id = @tenantId AND student_id = @studentId";

    public async Task<WalletBalance> GetBalanceAsync(Guid tenantId, string studentId)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead);
        var totals = await connection.QuerySingleRowOrDefaultAsync<(long Available, long Held)>(
            "SELECT available_seconds, held_seconds FROM wallets WHERE tenant_id = @tenantId AND student_id = @studentId",
            new { tenantId, studentId }, transaction);
        var lots = (await connection.QueryRowsAsync<LotRow>(
            """
            SELECT id, source, granted_seconds, remaining_seconds, held_seconds, expires_at, created_at FROM wallet_lots
            WHERE tenant_id = @tenantId AND student_id = @studentId AND expired_at IS NULL AND (remaining_seconds > 0 OR held_seconds > 0)
            ORDER BY expires_at NULLS LAST, id
            """,
            new { tenantId, studentId }, transaction)).Select(r => r.ToLot()).ToList();
        await transaction.CommitAsync();
        var soon = now + ExpiringSoonWindow;
        var expiringSoon = lots.Where(l => l.ExpiresAt is { } at && at <= soon).Sum(l => l.RemainingSeconds);
        return new WalletBalance(studentId, totals.Available, totals.Held, expiringSoon, lots);
    }

    /// <summary>Ledger entries newest first; <paramref name="before"/> is the id of the last entry of the previous page.</summary>
    public async Task<IReadOnlyList<LedgerEntry>> ListEntriesAsync(Guid tenantId, string studentId, long? before, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<EntryRow>(
            """
            SELECT id, kind, available_delta, held_delta, lot_id, call_id, source_id, created_at FROM wallet_entries
            WHERE tenant_id = @tenantId AND student_id = @studentId AND (@before::bigint IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """,
            new { tenantId, studentId, before, limit });
        return rows.Select(r => r.ToEntry()).ToList();
    }

    internal static T ParseEnum<T>(string value) where T : struct, Enum => Enum.Parse<T>(value, ignoreCase: true);

    private sealed record LotRow(
        Guid Id, string Source, long GrantedSeconds, long RemainingSeconds, long HeldSeconds, DateTime? ExpiresAt, DateTime CreatedAt)
    {
        public WalletLot ToLot() => new(
            Id, ParseEnum<LotSource>(Source), GrantedSeconds, RemainingSeconds, HeldSeconds, ExpiresAt?.AsUtc(), CreatedAt.AsUtc());
    }

    private sealed record EntryRow(
        long Id, string Kind, long AvailableDelta, long HeldDelta, Guid? LotId, Guid? CallId, Guid? SourceId, DateTime CreatedAt)
    {
        public LedgerEntry ToEntry() => new(
            Id, ParseEnum<LedgerEntryKind>(Kind), AvailableDelta, HeldDelta, LotId, CallId, SourceId, CreatedAt.AsUtc());
    }

    private sealed record PurchaseRow(
        Guid Id, string StudentId, Guid PackageId, string PackageName, long Seconds, decimal Price, string Currency,
        string PaymentReference, Guid LotId, DateTime? ExpiresAt, DateTime PurchasedAt)
    {
        public Purchase ToPurchase() => new(
            Id, StudentId, PackageId, PackageName, Seconds, Price.Normalize(Currency), Currency, PaymentReference, LotId,
            ExpiresAt?.AsUtc(), PurchasedAt.AsUtc());
    }
}
