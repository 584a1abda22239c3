using Callern.Platform.Tests.Infrastructure;
using Callern.Platform.Wallets;
using CsCheck;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Callern.Platform.Tests.Wallets;

/// <summary>The app with its background sweeper parked, so that only the test decides when lots expire.</summary>
public sealed class AppWithoutSweeper : CallernApp
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Callern:Wallets:ExpirySweepSeconds"] = "0",
    };
}

/// <summary>
/// Random sequences of purchases, grants, debits, holds, extensions, settlements, releases, time
/// passing and expiry sweeps against the real database; after every step the ledger must balance.
/// Its own app: the sequences move the clock forward.
/// </summary>
public sealed class LedgerPropertyTests(AppWithoutSweeper app) : IClassFixture<AppWithoutSweeper>
{
    private enum Kind { Purchase, Grant, Debit, Hold, Extend, Settle, Release, Advance, Sweep }

    /// <param name="Call">Which of four calls (holds) the step is about.</param>
    /// <param name="Amount">Seconds (or, for Purchase, which package; for Advance, how many half days pass).</param>
    private sealed record Step(Kind Kind, int Call, int Amount)
    {
        public override string ToString() => $"{Kind}({Call}, {Amount})";
    }

    // Weighted towards holds and their ends, where the interesting interleavings are.
    private static readonly Gen<Kind> Kinds = Gen.Frequency(
        (3, Gen.Const(Kind.Purchase)), (2, Gen.Const(Kind.Grant)), (2, Gen.Const(Kind.Debit)), (4, Gen.Const(Kind.Hold)),
        (3, Gen.Const(Kind.Extend)), (3, Gen.Const(Kind.Settle)), (1, Gen.Const(Kind.Release)), (3, Gen.Const(Kind.Advance)),
        (1, Gen.Const(Kind.Sweep)));

    private static readonly Gen<Step[]> Sequences =
        Gen.Select(Kinds, Gen.Int[0, 3], Gen.Int[0, 5000], (kind, call, amount) => new Step(kind, call, amount)).Array[1, 30];

    [Fact]
    public async Task Any_sequence_of_wallet_operations_keeps_the_ledger_balanced_and_never_negative()
    {
        var tenant = await app.CreateTenantAsync();
        var teacher = await app.CreateTeacherAsync(tenant);
        Guid[] packages =
        [
            (await app.CreatePackageAsync(tenant, 10, validityDays: 1)).Id,
            (await app.CreatePackageAsync(tenant, 30, validityDays: 7)).Id,
            (await app.CreatePackageAsync(tenant, 60, validityDays: null)).Id,
        ];
        var wallets = app.Services.GetRequiredService<WalletStore>();
        var holds = app.Services.GetRequiredService<CallHolds>();
        var expiry = app.Services.GetRequiredService<WalletExpiry>();

        await Sequences.SampleAsync(async steps =>
        {
            var student = await app.CreateStudentAsync(tenant);
            var calls = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToArray();
            foreach (var step in steps)
            {
                var spendable = await SpendableAsync(tenant.Id, student);
                var call = calls[step.Call];
                var before = await holds.FindAsync(tenant.Id, call);
                switch (step.Kind)
                {
                    case Kind.Purchase:
                        var bought = await wallets.PurchaseAsync(tenant.Id, student, packages[step.Amount % packages.Length], "order", Guid.NewGuid().ToString());
                        Assert.Equal(WriteStatus.Done, bought.Status);
                        break;
                    case Kind.Grant:
                        var validity = step.Amount % 2 == 0 ? (int?)null : step.Amount % 5 + 1;
                        await wallets.AdjustAsync(tenant.Id, student, step.Amount + 1, "grant", validity, "admin", Guid.NewGuid().ToString());
                        break;
                    case Kind.Debit:
                        var debit = await wallets.AdjustAsync(tenant.Id, student, -(step.Amount + 1), "debit", null, "admin", Guid.NewGuid().ToString());
                        Assert.Equal(step.Amount + 1 > spendable ? WriteStatus.InsufficientBalance : WriteStatus.Done, debit.Status);
                        break;
                    case Kind.Hold:
                        var hold = await holds.HoldAsync(tenant.Id, student, call, step.Amount);
                        Assert.Equal(before?.HeldSeconds ?? Math.Min(step.Amount, spendable), hold.HeldSeconds);
                        break;
                    case Kind.Extend:
                        var extended = await holds.ExtendAsync(tenant.Id, call, step.Amount);
                        if (before is { State: HoldState.Active })
                        {
                            Assert.Equal(Math.Max(before.HeldSeconds, Math.Min(step.Amount, before.HeldSeconds + spendable)), extended!.HeldSeconds);
                        }
                        break;
                    case Kind.Settle:
                        var settled = await holds.SettleAsync(tenant.Id, call, step.Amount, teacher);
                        if (before is { State: HoldState.Active })
                        {
                            Assert.Equal(Math.Min(step.Amount, before.HeldSeconds), settled!.ChargedSeconds);
                        }
                        else
                        {
                            Assert.Equal(before, settled);
                        }
                        break;
                    case Kind.Release:
                        var released = await holds.ReleaseAsync(tenant.Id, call);
                        Assert.Equal(before is { State: HoldState.Active } ? before.HeldSeconds : before?.ReleasedSeconds, released?.ReleasedSeconds);
                        break;
                    case Kind.Advance:
                        // Time passes without a sweep: lots past expiry must not be spent meanwhile.
                        app.Clock.Advance(TimeSpan.FromHours(12 * (step.Amount % 6 + 1)));
                        break;
                    case Kind.Sweep:
                        await expiry.ExpireDueAsync();
                        break;
                }
                await app.AssertLedgerBalancedAsync(tenant.Id, student);
            }
            await AssertOneChargePerSettledCallAsync(tenant.Id, student);
        }, iter: 40, threads: 1);
    }

    private async Task<long> SpendableAsync(Guid tenantId, string studentId)
    {
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        return await connection.ExecuteScalarAsync<long>(
            """
            SELECT coalesce(sum(remaining_seconds), 0)::bigint FROM wallet_lots
            WHERE tenant_id = @tenantId AND student_id = @studentId AND expired_at IS NULL AND (expires_at IS NULL OR expires_at > @now)
            """,
            new { tenantId, studentId, now = app.Clock.GetUtcNow() });
    }

    private async Task AssertOneChargePerSettledCallAsync(Guid tenantId, string studentId)
    {
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        var mismatches = await connection.ExecuteScalarAsync<long>(
            """
            SELECT count(*) FROM wallet_holds h
            WHERE h.tenant_id = @tenantId AND h.student_id = @studentId
              AND (SELECT count(*) FROM wallet_entries e WHERE e.tenant_id = h.tenant_id AND e.call_id = h.call_id AND e.kind = 'charge')
                  <> CASE h.state WHEN 'settled' THEN 1 ELSE 0 END
            """,
            new { tenantId, studentId });
        Assert.Equal(0, mismatches);
    }
}
