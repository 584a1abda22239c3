using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using CallHolds = Callern.Platform.Wallets.CallHolds;
using HoldState = Callern.Platform.Wallets.HoldState;

namespace Callern.Platform.Tests.Wallets;

/// <summary>Holds and settlement as the calls feature uses them, through the platform's own service.</summary>
public sealed class HoldTests(CallernApp app) : IClassFixture<CallernApp>
{
    private CallHolds Holds => app.Services.GetRequiredService<CallHolds>();

    private async Task<(TestTenant Tenant, string Student, string Teacher)> SchoolWithBalanceAsync(int minutes, int? validityDays = null)
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var teacher = await app.CreateTeacherAsync(tenant);
        var package = await app.CreatePackageAsync(tenant, minutes, validityDays);
        await app.BuyAsync(tenant, student, package.Id);
        return (tenant, student, teacher);
    }

    [Fact]
    public async Task Hold_grants_at_most_the_balance_and_settlement_charges_once_and_releases_the_rest()
    {
        var (tenant, student, teacher) = await SchoolWithBalanceAsync(minutes: 10);
        var call = Guid.NewGuid();

        var hold = await Holds.HoldAsync(tenant.Id, student, call, upToSeconds: 3600);
        Assert.Equal((HoldState.Active, 600L), (hold.State, hold.HeldSeconds));
        var wallet = await app.SdkAs(tenant, student, CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((0L, 600L), (wallet.AvailableSeconds, wallet.HeldSeconds));

        var settled = await Holds.SettleAsync(tenant.Id, call, billedSeconds: 245, teacher);
        Assert.Equal((HoldState.Settled, 245L, 355L), (settled!.State, settled.ChargedSeconds, settled.ReleasedSeconds));
        wallet = await app.SdkAs(tenant, student, CallernRoles.Student).GetMyWalletAsync();
        Assert.Equal((355L, 0L), (wallet.AvailableSeconds, wallet.HeldSeconds));
        var kinds = (await app.SdkAs(tenant, student, CallernRoles.Student).ListMyTransactionsAsync(null, null)).Items.Select(e => (e.Kind, e.AvailableDeltaSeconds, e.HeldDeltaSeconds));
        Assert.Equal([(LedgerEntryKind.Release, 355L, -355L), (LedgerEntryKind.Charge, 0L, -245L), (LedgerEntryKind.Hold, -600L, 600L), (LedgerEntryKind.Purchase, 600L, 0L)], kinds);
        var earnings = await app.SdkAs(tenant, teacher, CallernRoles.Teacher).GetMyEarningsAsync(null, null);
        Assert.Equal((245L, 1L), (earnings.Seconds, earnings.Calls));
        await app.AssertLedgerBalancedAsync(tenant.Id, student);
    }

    [Fact]
    public async Task Fifty_concurrent_holds_on_one_wallet_never_exceed_its_balance()
    {
        var (tenant, student, _) = await SchoolWithBalanceAsync(minutes: 30);

        var holds = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => Holds.HoldAsync(tenant.Id, student, Guid.NewGuid(), 100))));

        Assert.Equal(1800, holds.Sum(h => h.HeldSeconds));
        Assert.Equal(18, holds.Count(h => h.HeldSeconds == 100));
        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((0L, 1800L), (ledger.Available, ledger.Held));
    }

    [Fact]
    public async Task Settling_twice_even_concurrently_charges_once_and_credits_the_teacher_once()
    {
        var (tenant, student, teacher) = await SchoolWithBalanceAsync(minutes: 60);
        var call = Guid.NewGuid();
        await Holds.HoldAsync(tenant.Id, student, call, 1200);

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => Holds.SettleAsync(tenant.Id, call, 700, teacher))));
        var again = await Holds.SettleAsync(tenant.Id, call, 900, teacher);
        var released = await Holds.ReleaseAsync(tenant.Id, call);

        Assert.All(results.Append(again).Append(released), r => Assert.Equal((HoldState.Settled, 700L, 500L), (r!.State, r.ChargedSeconds, r.ReleasedSeconds)));
        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((2900L, 0L, 700L), (ledger.Available, ledger.Held, ledger.Charged));
        var calls = await app.SdkAs(tenant, teacher, CallernRoles.Teacher).ListMyEarningsAsync(null, null);
        Assert.Equal((call, 700L), (Assert.Single(calls.Items).CallId, calls.Items[0].Seconds));
    }

    [Fact]
    public async Task Hold_again_for_the_same_call_changes_nothing_and_extend_to_the_same_total_grants_once()
    {
        var (tenant, student, _) = await SchoolWithBalanceAsync(minutes: 20);
        var call = Guid.NewGuid();

        await Holds.HoldAsync(tenant.Id, student, call, 300);
        var repeated = await Holds.HoldAsync(tenant.Id, student, call, 900);
        Assert.Equal(300, repeated.HeldSeconds);
        var extended = await Holds.ExtendAsync(tenant.Id, call, 600);
        var extendedAgain = await Holds.ExtendAsync(tenant.Id, call, 600);
        Assert.Equal((600L, 600L), (extended!.HeldSeconds, extendedAgain!.HeldSeconds));
        var capped = await Holds.ExtendAsync(tenant.Id, call, 100_000);
        Assert.Equal(1200, capped!.HeldSeconds);

        Assert.Null(await Holds.ExtendAsync(tenant.Id, Guid.NewGuid(), 60));
        Assert.Null(await Holds.SettleAsync(tenant.Id, Guid.NewGuid(), 60, "teacher-x"));
        var other = await app.CreateTenantAsync("Other");
        Assert.Null(await Holds.ReleaseAsync(other.Id, call));
        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((0L, 1200L), (ledger.Available, ledger.Held));
    }

    [Fact]
    public async Task A_top_up_during_a_call_lets_the_hold_grow_and_release_returns_everything()
    {
        var (tenant, student, _) = await SchoolWithBalanceAsync(minutes: 5);
        var call = Guid.NewGuid();
        Assert.Equal(300, (await Holds.HoldAsync(tenant.Id, student, call, 1200)).HeldSeconds);
        Assert.Equal(300, (await Holds.ExtendAsync(tenant.Id, call, 1200))!.HeldSeconds);

        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).AdjustWalletAsync(student, "top-up", new AdjustmentRequest { Seconds = 600, Reason = "Top-up" });
        Assert.Equal(900, (await Holds.ExtendAsync(tenant.Id, call, 1200))!.HeldSeconds);

        var released = await Holds.ReleaseAsync(tenant.Id, call);
        Assert.Equal((HoldState.Released, 0L, 900L), (released!.State, released.ChargedSeconds, released.ReleasedSeconds));
        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((900L, 0L, 0L), (ledger.Available, ledger.Held, ledger.Charged));
    }

    [Fact]
    public async Task Calls_consume_the_earliest_expiring_lot_first()
    {
        var tenant = await app.CreateTenantAsync();
        var student = await app.CreateStudentAsync(tenant);
        var teacher = await app.CreateTeacherAsync(tenant);
        var forever = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, null)).Id);
        var month = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, 30)).Id);
        var week = await app.BuyAsync(tenant, student, (await app.CreatePackageAsync(tenant, 10, 7)).Id);
        var call = Guid.NewGuid();

        await Holds.HoldAsync(tenant.Id, student, call, 900);
        await Holds.SettleAsync(tenant.Id, call, 700, teacher);

        var lots = (await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetStudentWalletAsync(student)).Lots.ToDictionary(l => l.Id, l => l.RemainingSeconds);
        Assert.False(lots.ContainsKey(week.LotId));
        Assert.Equal(500, lots[month.LotId]);
        Assert.Equal(600, lots[forever.LotId]);
        await app.AssertLedgerBalancedAsync(tenant.Id, student);
    }

    [Fact]
    public async Task Hold_inside_the_callers_transaction_rolls_back_with_it()
    {
        var (tenant, student, _) = await SchoolWithBalanceAsync(minutes: 10);
        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        await using var connection = await db.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var hold = await Holds.HoldAsync(tenant.Id, student, Guid.NewGuid(), 300, transaction);
            Assert.Equal(300, hold.HeldSeconds);
            await transaction.RollbackAsync();
        }

        var ledger = await app.AssertLedgerBalancedAsync(tenant.Id, student);
        Assert.Equal((600L, 0L), (ledger.Available, ledger.Held));
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM wallet_holds"));
    }

    [Fact]
    public async Task The_ledger_refuses_updates_and_a_negative_wallet()
    {
        var (tenant, student, _) = await SchoolWithBalanceAsync(minutes: 1);
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);

        var update = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync("UPDATE wallet_entries SET available_delta = 10"));
        Assert.Contains("append-only", update.MessageText);
        var negative = await Assert.ThrowsAsync<PostgresException>(() => connection.ExecuteAsync(
            "UPDATE wallets SET available_seconds = available_seconds - 61 WHERE tenant_id = @Id AND student_id = @student", new { tenant.Id, student }));
        Assert.Equal(PostgresErrorCodes.CheckViolation, negative.SqlState);
        Assert.Equal(60, (await app.AssertLedgerBalancedAsync(tenant.Id, student)).Available);
    }

    [Fact]
    public async Task Admin_earnings_report_sums_seconds_taught_per_teacher_in_the_period()
    {
        var (tenant, student, emma) = await SchoolWithBalanceAsync(minutes: 60);
        var jack = await app.CreateTeacherAsync(tenant);
        var from = app.Clock.GetUtcNow();
        foreach (var (teacher, seconds) in new[] { (emma, 300L), (emma, 120L), (jack, 600L) })
        {
            var call = Guid.NewGuid();
            await Holds.HoldAsync(tenant.Id, student, call, 900);
            await Holds.SettleAsync(tenant.Id, call, seconds, teacher);
        }

        var report = await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetEarningsReportAsync(from, from.AddDays(1));

        Assert.Equal(new[] { (emma, 420L, 2L), (jack, 600L, 1L) }.OrderBy(t => t.Item1, StringComparer.Ordinal),
            report.Teachers.Select(t => (t.TeacherId, t.Seconds, t.Calls)));
        Assert.Empty((await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).GetEarningsReportAsync(from.AddDays(1), from.AddDays(2))).Teachers);
    }
}
