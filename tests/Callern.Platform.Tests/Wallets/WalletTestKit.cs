using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Dapper;
using Npgsql;

namespace Callern.Platform.Tests.Wallets;

/// <summary>The ledger's totals for one wallet, read straight from the database.</summary>
public sealed record LedgerTotals(
    long Available, long Held, long EntriesAvailable, long EntriesHeld, long LotsRemaining, long LotsHeld, long ActiveHolds,
    long Credited, long Charged, long Expired, long Debited);

/// <summary>Shared set-up and checks of the wallet tests: a school with students, a teacher and packages.</summary>
public static class WalletTestKit
{
    public static async Task<string> CreateStudentAsync(this CallernApp app, TestTenant tenant, string? id = null)
    {
        id ??= "student-" + Guid.NewGuid().ToString("N")[..12];
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).UpsertStudentAsync(id, new StudentInput
        {
            DisplayName = "Student " + id, TimeZone = "Europe/London",
        });
        return id;
    }

    public static async Task<string> CreateTeacherAsync(this CallernApp app, TestTenant tenant, string? id = null)
    {
        id ??= "teacher-" + Guid.NewGuid().ToString("N")[..12];
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).UpsertTeacherAsync(id, new TeacherInput
        {
            DisplayName = "Teacher " + id, TimeZone = "Europe/London",
            Languages = [new TeacherLanguage { Language = "en-GB", Levels = ["B1", "B2"] }],
        });
        return id;
    }

    public static Task<Package> CreatePackageAsync(
        this CallernApp app, TestTenant tenant, int minutes, int? validityDays, decimal price = 10m, string currency = "EUR") =>
        app.SdkAs(tenant, "admin-1", CallernRoles.Admin).CreatePackageAsync(new PackageInput
        {
            Name = $"{minutes} minutes", Minutes = minutes, Price = price, Currency = currency, ValidityDays = validityDays,
        });

    public static Task<Purchase> BuyAsync(this CallernApp app, TestTenant tenant, string studentId, Guid packageId, string? key = null) =>
        app.SdkAs(tenant, "admin-1", CallernRoles.Admin).RecordPurchaseAsync(
            studentId, key ?? Guid.NewGuid().ToString(), new PurchaseRequest { PackageId = packageId, PaymentReference = "order-" + Guid.NewGuid() });

    /// <summary>The fields a problem response names in its <c>errors</c>, whichever problem type the SDK parsed.</summary>
    public static IReadOnlyCollection<string> ErrorFields(this CallernApiException exception) => exception switch
    {
        CallernApiException<HttpValidationProblemDetails> validation => validation.Result.Errors.Keys.ToList(),
        CallernApiException<ProblemDetails> problem when problem.Result.AdditionalProperties.TryGetValue("errors", out var errors) =>
            ((System.Text.Json.JsonElement)errors).EnumerateObject().Select(p => p.Name).ToList(),
        _ => [],
    };

    public static async Task<LedgerTotals> LedgerAsync(this CallernApp app, Guid tenantId, string studentId)
    {
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        return await connection.QuerySingleAsync<LedgerTotals>(
            """
            SELECT
              coalesce((SELECT available_seconds FROM wallets WHERE tenant_id = @tenantId AND student_id = @studentId), 0) AS available,
              coalesce((SELECT held_seconds FROM wallets WHERE tenant_id = @tenantId AND student_id = @studentId), 0) AS held,
              coalesce(sum(available_delta), 0)::bigint AS entries_available,
              coalesce(sum(held_delta), 0)::bigint AS entries_held,
              (SELECT coalesce(sum(remaining_seconds), 0)::bigint FROM wallet_lots WHERE tenant_id = @tenantId AND student_id = @studentId) AS lots_remaining,
              (SELECT coalesce(sum(held_seconds), 0)::bigint FROM wallet_lots WHERE tenant_id = @tenantId AND student_id = @studentId) AS lots_held,
              (SELECT coalesce(sum(held_seconds), 0)::bigint FROM wallet_holds WHERE tenant_id = @tenantId AND student_id = @studentId AND state = 'active') AS active_holds,
              coalesce(sum(available_delta) FILTER (WHERE kind IN ('purchase', 'adjustment') AND available_delta > 0), 0)::bigint AS credited,
              coalesce(-sum(held_delta) FILTER (WHERE kind = 'charge'), 0)::bigint AS charged,
              coalesce(-sum(available_delta + held_delta) FILTER (WHERE kind = 'expiry'), 0)::bigint AS expired,
              coalesce(-sum(available_delta) FILTER (WHERE kind = 'adjustment' AND available_delta < 0), 0)::bigint AS debited
            FROM wallet_entries WHERE tenant_id = @tenantId AND student_id = @studentId
            """,
            new { tenantId, studentId });
    }

    /// <summary>
    /// The ledger's invariants: totals equal the sums of entries and of lots, nothing is negative,
    /// holds are covered, and every credited second is available, held, charged, expired or debited.
    /// </summary>
    public static async Task<LedgerTotals> AssertLedgerBalancedAsync(this CallernApp app, Guid tenantId, string studentId)
    {
        var ledger = await app.LedgerAsync(tenantId, studentId);
        Assert.True(ledger.Available >= 0 && ledger.Held >= 0, $"negative wallet: {ledger}");
        Assert.Equal(ledger.EntriesAvailable, ledger.Available);
        Assert.Equal(ledger.EntriesHeld, ledger.Held);
        Assert.Equal(ledger.LotsRemaining, ledger.Available);
        Assert.Equal(ledger.LotsHeld, ledger.Held);
        Assert.Equal(ledger.ActiveHolds, ledger.Held);
        Assert.True(ledger.Held <= ledger.Credited, $"more held than ever credited: {ledger}");
        Assert.Equal(ledger.Credited, ledger.Available + ledger.Held + ledger.Charged + ledger.Expired + ledger.Debited);
        return ledger;
    }
}
