using Callern.Platform.Infrastructure;
using Npgsql;

namespace Callern.Platform.Wallets;

/// <summary>Teacher earnings (seconds taught, from settled calls) and revenue (purchases per currency).</summary>
public sealed class WalletReports(NpgsqlDataSource db)
{
    public async Task<EarningsSummary> EarningsOfAsync(Guid tenantId, string teacherId, DateTimeOffset? from, DateTimeOffset? to)
    {
        await using var connection = await db.OpenConnectionAsync();
        var (seconds, calls) = await connection.QuerySingleRowAsync<(long Seconds, long Calls)>(
            """
            SELECT coalesce(sum(seconds), 0)::bigint, count(*) FROM teacher_earnings
            WHERE tenant_id = @tenantId AND teacher_id = @teacherId
              AND (@from::timestamptz IS NULL OR earned_at >= @from) AND (@to::timestamptz IS NULL OR earned_at < @to)
            """,
            new { tenantId, teacherId, from, to });
        return new EarningsSummary(teacherId, from, to, seconds, calls);
    }

    /// <summary>A teacher's settled calls, newest first, after the last entry of the previous page.</summary>
    public async Task<IReadOnlyList<EarningEntry>> EarningEntriesAsync(Guid tenantId, string teacherId, (DateTimeOffset At, Guid CallId)? after, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<(Guid CallId, string TeacherId, string StudentId, long Seconds, DateTime EarnedAt)>(
            """
            SELECT call_id, teacher_id, student_id, seconds, earned_at FROM teacher_earnings
            WHERE tenant_id = @tenantId AND teacher_id = @teacherId
              AND (@afterAt::timestamptz IS NULL OR (earned_at, call_id) < (@afterAt, @afterCall))
            ORDER BY earned_at DESC, call_id DESC LIMIT @limit
            """,
            new { tenantId, teacherId, afterAt = after?.At, afterCall = after?.CallId, limit });
        return rows.Select(r => new EarningEntry(r.CallId, r.TeacherId, r.StudentId, r.Seconds, r.EarnedAt.AsUtc())).ToList();
    }

    public async Task<EarningsReport> EarningsReportAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<(string TeacherId, long Seconds, long Calls)>(
            """
            SELECT teacher_id, sum(seconds)::bigint, count(*) FROM teacher_earnings
            WHERE tenant_id = @tenantId AND earned_at >= @from AND earned_at < @to
            GROUP BY teacher_id ORDER BY teacher_id
            """,
            new { tenantId, from, to });
        return new EarningsReport(from, to, rows.Select(r => new TeacherEarnings(r.TeacherId, r.Seconds, r.Calls)).ToList());
    }

    public async Task<RevenueReport> RevenueAsync(Guid tenantId, DateTimeOffset from, DateTimeOffset to)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<(string Currency, decimal Amount, long Purchases, long Seconds)>(
            """
            SELECT currency, sum(price), count(*), sum(seconds)::bigint FROM wallet_purchases
            WHERE tenant_id = @tenantId AND purchased_at >= @from AND purchased_at < @to
            GROUP BY currency ORDER BY currency
            """,
            new { tenantId, from, to });
        return new RevenueReport(from, to,
            rows.Select(r => new CurrencyRevenue(r.Currency, r.Amount.Normalize(r.Currency), r.Purchases, r.Seconds)).ToList());
    }
}
