using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Callern.Platform.Infrastructure;
using Callern.Platform.People;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Callern.Platform.Wallets;

/// <summary>
/// Wallets over HTTP: purchases and adjustments (with Idempotency-Key), balances and ledger for
/// admins and for the student, earnings for teachers, earnings and revenue reports for admins.
/// </summary>
public static class WalletEndpoints
{
    /// <summary>100,000 minutes: far beyond any real grant, small enough to catch a typo in units.</summary>
    public const long MaxAdjustmentSeconds = 6_000_000;
    public const int MaxReasonLength = 500;
    public const int MaxPaymentReferenceLength = 200;

    public static IEndpointRouteBuilder MapWallets(this IEndpointRouteBuilder app)
    {
        app.MapPackages();

        var students = app.MapGroup("/v1/students/{id}/wallet").WithTags("Wallets").RequireAuthorization(Policies.AdminOrService);
        students.MapGet("/", GetWallet).WithName("GetStudentWallet")
            .WithSummary("A student's available and held seconds, open lots with expiry, and seconds expiring within 7 days.");
        students.MapGet("/transactions", ListTransactions).WithName("ListStudentTransactions")
            .WithSummary("A student's ledger entries, newest first, with cursor pagination.");
        students.MapPost("/purchases", RecordPurchase).WithName("RecordPurchase").ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Records a package the school was paid for. Requires Idempotency-Key: a retry with the same key and body returns the same purchase and credits once.");
        students.MapGet("/purchases/{purchaseId:guid}", GetPurchase).WithName("GetPurchase").WithSummary("Gets one purchase of the student.");
        students.MapPost("/adjustments", Adjust).RequireAuthorization(Policies.Admin).WithName("AdjustWallet")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Grants (positive seconds) or debits (negative seconds) with a reason. Requires Idempotency-Key; a debit beyond the spendable balance is refused.");

        var me = app.MapGroup("/v1/me").WithTags("Wallets");
        me.MapGet("/wallet", GetMyWallet).RequireAuthorization(Policies.Student).WithName("GetMyWallet")
            .WithSummary("The calling student's balance, open lots and seconds expiring within 7 days.");
        me.MapGet("/wallet/transactions", ListMyTransactions).RequireAuthorization(Policies.Student).WithName("ListMyTransactions")
            .WithSummary("The calling student's ledger entries, newest first, with cursor pagination.");
        me.MapGet("/earnings", GetMyEarnings).RequireAuthorization(Policies.Teacher).WithName("GetMyEarnings")
            .WithSummary("Seconds the calling teacher taught in settled calls, in [from, to) when given.");
        me.MapGet("/earnings/calls", ListMyEarnings).RequireAuthorization(Policies.Teacher).WithName("ListMyEarnings")
            .WithSummary("The calling teacher's settled calls, newest first, with cursor pagination.");

        var reports = app.MapGroup("/v1/reports").WithTags("Reports").RequireAuthorization(Policies.Admin);
        reports.MapGet("/earnings", GetEarningsReport).WithName("GetEarningsReport")
            .WithSummary("Seconds taught per teacher in settled calls in [from, to).");
        reports.MapGet("/revenue", GetRevenueReport).WithName("GetRevenueReport")
            .WithSummary("Purchases in [from, to) summed per currency.");
        return app;
    }

    private static async Task<bool> StudentExists(string id, Guid tenantId, PeopleStore people) =>
        ProfileRules.IsId(id) && await people.FindStudentAsync(tenantId, id) is not null;

    private static async Task<Results<Ok<WalletBalance>, NotFound>> GetWallet(string id, HttpContext http, PeopleStore people, WalletStore wallets)
    {
        var tenantId = http.User.RequiredCaller().TenantId;
        return await StudentExists(id, tenantId, people) ? TypedResults.Ok(await wallets.GetBalanceAsync(tenantId, id)) : TypedResults.NotFound();
    }

    private static async Task<Results<Ok<Page<LedgerEntry>>, NotFound, ValidationProblem>> ListTransactions(
        string id, HttpContext http, PeopleStore people, WalletStore wallets, string? cursor, int? limit)
    {
        var tenantId = http.User.RequiredCaller().TenantId;
        if (!await StudentExists(id, tenantId, people))
        {
            return TypedResults.NotFound();
        }
        var page = await Entries(tenantId, id, wallets, cursor, limit);
        return page.Value is { } value ? TypedResults.Ok(value) : page.Problem;
    }

    private static async Task<Ok<WalletBalance>> GetMyWallet(HttpContext http, WalletStore wallets)
    {
        var caller = http.User.RequiredCaller();
        return TypedResults.Ok(await wallets.GetBalanceAsync(caller.TenantId, caller.UserId));
    }

    private static async Task<Results<Ok<Page<LedgerEntry>>, ValidationProblem>> ListMyTransactions(
        HttpContext http, WalletStore wallets, string? cursor, int? limit)
    {
        var caller = http.User.RequiredCaller();
        var page = await Entries(caller.TenantId, caller.UserId, wallets, cursor, limit);
        return page.Value is { } value ? TypedResults.Ok(value) : page.Problem;
    }

    private static async Task<(Page<LedgerEntry>? Value, ValidationProblem Problem)> Entries(
        Guid tenantId, string studentId, WalletStore wallets, string? cursor, int? limit)
    {
        var errors = new FieldErrors();
        var (after, size) = Cursor.Read(cursor, limit, errors);
        long? before = null;
        if (after is not null)
        {
            errors.Check(long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed), "cursor", "Not a cursor returned by this list.");
            before = parsed;
        }
        if (!errors.IsEmpty)
        {
            return (null, errors.ToProblem());
        }
        var rows = await wallets.ListEntriesAsync(tenantId, studentId, before, size + 1);
        return (Cursor.ToPage(rows, size, e => e.Id.ToString(CultureInfo.InvariantCulture)), null!);
    }

    private static async Task<Results<Ok<Purchase>, NotFound, ValidationProblem, ProblemHttpResult>> RecordPurchase(
        string id, PurchaseRequest request, [FromHeader(Name = Idempotency.Header), Required] string? idempotencyKey,
        HttpContext http, PeopleStore people, WalletStore wallets)
    {
        var tenantId = http.User.RequiredCaller().TenantId;
        if (!await StudentExists(id, tenantId, people))
        {
            return TypedResults.NotFound();
        }
        var errors = new FieldErrors()
            .IdempotencyKey(idempotencyKey)
            .Check(request.PackageId is { } package && package != Guid.Empty, "packageId", "Required.")
            .Required(request.PaymentReference, "paymentReference", MaxPaymentReferenceLength);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var outcome = await wallets.PurchaseAsync(tenantId, id, request.PackageId!.Value, request.PaymentReference!, idempotencyKey!);
        return outcome.Status switch
        {
            WriteStatus.Done or WriteStatus.Replayed => Done(http, outcome),
            WriteStatus.PackageUnavailable => new FieldErrors().Add("packageId", "No package on sale with this id.").ToProblem(),
            _ => KeyReused(),
        };
    }

    private static async Task<Results<Ok<Purchase>, NotFound>> GetPurchase(
        string id, Guid purchaseId, HttpContext http, WalletStore wallets) =>
        await wallets.FindPurchaseAsync(http.User.RequiredCaller().TenantId, id, purchaseId) is { } purchase
            ? TypedResults.Ok(purchase)
            : TypedResults.NotFound();

    private static async Task<Results<Ok<Adjustment>, NotFound, ValidationProblem, ProblemHttpResult>> Adjust(
        string id, AdjustmentRequest request, [FromHeader(Name = Idempotency.Header), Required] string? idempotencyKey,
        HttpContext http, PeopleStore people, WalletStore wallets)
    {
        var caller = http.User.RequiredCaller();
        if (!await StudentExists(id, caller.TenantId, people))
        {
            return TypedResults.NotFound();
        }
        var errors = new FieldErrors()
            .IdempotencyKey(idempotencyKey)
            .Check(request.Seconds is >= -MaxAdjustmentSeconds and <= MaxAdjustmentSeconds and not 0, "seconds",
                $"A non-zero number of seconds between -{MaxAdjustmentSeconds} and {MaxAdjustmentSeconds}: positive grants, negative debits.")
            .Required(request.Reason, "reason", MaxReasonLength)
            .Check(request.ValidityDays is null or (>= 1 and <= PackageInput.MaxValidityDays), "validityDays",
                $"Between 1 and {PackageInput.MaxValidityDays}, or null for no expiry.")
            .Check(request.ValidityDays is null || request.Seconds is not < 0, "validityDays", "Only a grant has a validity.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var outcome = await wallets.AdjustAsync(
            caller.TenantId, id, request.Seconds!.Value, request.Reason!.Trim(), request.ValidityDays, caller.UserId, idempotencyKey!);
        return outcome.Status switch
        {
            WriteStatus.Done or WriteStatus.Replayed => Done(http, outcome),
            WriteStatus.InsufficientBalance => new FieldErrors().Add("seconds",
                $"Only {outcome.SpendableSeconds} seconds can be debited now; seconds held by calls in progress cannot.").ToProblem(),
            _ => KeyReused(),
        };
    }

    private static Ok<T> Done<T>(HttpContext http, WriteOutcome<T> outcome) where T : class
    {
        if (outcome.Status == WriteStatus.Replayed)
        {
            http.Response.Headers["Idempotent-Replayed"] = "true";
        }
        return TypedResults.Ok(outcome.Value!);
    }

    private static FieldErrors IdempotencyKey(this FieldErrors errors, string? key) =>
        errors.Check(Idempotency.IsValidKey(key), Idempotency.Header,
            $"Required: 1 to {Idempotency.MaxKeyLength} printable ASCII characters without spaces, unique per purchase (a UUID, say).");

    private static ProblemHttpResult KeyReused() => TypedResults.Problem(
        title: "Idempotency-Key already used for a different request.",
        detail: "Each key identifies one request; send a new key for a new request. Nothing was changed.",
        statusCode: StatusCodes.Status422UnprocessableEntity,
        extensions: new Dictionary<string, object?>
        {
            ["errors"] = new Dictionary<string, string[]> { [Idempotency.Header] = ["Already used with a different body."] },
        });

    private static async Task<Results<Ok<EarningsSummary>, ValidationProblem>> GetMyEarnings(
        HttpContext http, WalletReports reports, DateTimeOffset? from, DateTimeOffset? to)
    {
        var errors = new FieldErrors().Check(from is null || to is null || from < to, "to", "After from.");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var caller = http.User.RequiredCaller();
        return TypedResults.Ok(await reports.EarningsOfAsync(caller.TenantId, caller.UserId, from?.ToUniversalTime(), to?.ToUniversalTime()));
    }

    private static async Task<Results<Ok<Page<EarningEntry>>, ValidationProblem>> ListMyEarnings(
        HttpContext http, WalletReports reports, string? cursor, int? limit)
    {
        var errors = new FieldErrors();
        var (after, size) = Cursor.Read(cursor, limit, errors);
        (DateTimeOffset, Guid)? position = null;
        if (after is not null)
        {
            position = ParseEarningCursor(after);
            errors.Check(position is not null, "cursor", "Not a cursor returned by this list.");
        }
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var caller = http.User.RequiredCaller();
        var rows = await reports.EarningEntriesAsync(caller.TenantId, caller.UserId, position, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, e => $"{e.EarnedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}|{e.CallId}"));
    }

    /// <summary>An earnings cursor is "ticks|callId" of the last entry: entries are ordered by time, then call id.</summary>
    private static (DateTimeOffset, Guid)? ParseEarningCursor(string key)
    {
        var parts = key.Split('|');
        return parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            && ticks <= DateTimeOffset.MaxValue.UtcTicks
            && Guid.TryParse(parts[1], out var callId)
                ? (new DateTimeOffset(ticks, TimeSpan.Zero), callId)
                : null;
    }

    private static FieldErrors Period(DateTimeOffset? from, DateTimeOffset? to) => new FieldErrors()
        .Check(from is not null, "from", "Required: the start of the period (inclusive), e.g. 2025-01-01T00:00:00Z.")
        .Check(to is not null, "to", "Required: the end of the period (exclusive).")
        .Check(from is null || to is null || from < to, "to", "After from.");

    private static async Task<Results<Ok<EarningsReport>, ValidationProblem>> GetEarningsReport(
        HttpContext http, WalletReports reports, DateTimeOffset? from, DateTimeOffset? to)
    {
        var errors = Period(from, to);
        return errors.IsEmpty
            ? TypedResults.Ok(await reports.EarningsReportAsync(http.User.RequiredCaller().TenantId, from!.Value.ToUniversalTime(), to!.Value.ToUniversalTime()))
            : errors.ToProblem();
    }

    private static async Task<Results<Ok<RevenueReport>, ValidationProblem>> GetRevenueReport(
        HttpContext http, WalletReports reports, DateTimeOffset? from, DateTimeOffset? to)
    {
        var errors = Period(from, to);
        return errors.IsEmpty
            ? TypedResults.Ok(await reports.RevenueAsync(http.User.RequiredCaller().TenantId, from!.Value.ToUniversalTime(), to!.Value.ToUniversalTime()))
            : errors.ToProblem();
    }
}

public static class WalletServices
{
    public static IServiceCollection AddWallets(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<WalletOptions>(configuration.GetSection("Callern:Wallets"));
        services.AddSingleton<PackageStore>().AddSingleton<WalletStore>().AddSingleton<CallHolds>()
            .AddSingleton<WalletExpiry>().AddSingleton<WalletReports>();
        services.AddHostedService<WalletExpirySweeper>();
        return services;
    }
}
