using Callern.Platform.Infrastructure;
using Callern.Platform.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Callern.Platform.Wallets;

/// <summary>A minute package of the school's catalog. Buying it credits <c>minutes × 60</c> seconds.</summary>
public sealed record Package(
    Guid Id, string Name, int Minutes, decimal Price, string Currency, int? ValidityDays, bool Archived,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// What an admin sends to create or update a package. <c>validityDays</c> null: the minutes never
/// expire. The price has at most as many decimals as the currency has (2 for EUR, 0 for JPY).
/// </summary>
public sealed record PackageInput(string? Name, int? Minutes, decimal? Price, string? Currency, int? ValidityDays)
{
    public const int MaxMinutes = 100_000;
    public const decimal MaxPrice = 10_000_000m;
    public const int MaxValidityDays = 3660;

    public FieldErrors Validate()
    {
        var errors = new FieldErrors()
            .Required(Name, "name")
            .Check(Minutes is >= 1 and <= MaxMinutes, "minutes", $"Between 1 and {MaxMinutes}.")
            .Check(ValidityDays is null or (>= 1 and <= MaxValidityDays), "validityDays", $"Between 1 and {MaxValidityDays}, or null for no expiry.")
            .Check(Currencies.IsKnown(Currency), "currency", "An ISO 4217 currency code in upper case, such as EUR, USD or JPY.");
        if (Price is not { } price || price < 0 || price > MaxPrice)
        {
            errors.Add("price", $"Between 0 and {MaxPrice}.");
        }
        else if (Currencies.IsKnown(Currency) && !Currencies.FitsMinorUnits(price, Currency!))
        {
            errors.Add("price", $"{Currency} has {Currencies.MinorUnitsOf(Currency!)} decimal places.");
        }
        return errors;
    }
}

public sealed class PackageStore(NpgsqlDataSource db, TimeProvider time)
{
    private const string Columns = "id, name, minutes, price, currency, validity_days, archived_at, created_at, updated_at";

    public async Task<Package> CreateAsync(Guid tenantId, PackageInput input)
    {
        var now = time.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowAsync<Row>(
            $"""
            INSERT INTO packages (tenant_id, id, name, minutes, price, currency, validity_days, created_at, updated_at)
            VALUES (@tenantId, @id, @name, @Minutes, @Price, @Currency, @ValidityDays, @now, @now)
            RETURNING {Columns}
            """,
            new { tenantId, id = Guid.CreateVersion7(now), name = input.Name!.Trim(), input.Minutes, input.Price, input.Currency, input.ValidityDays, now });
        return row.ToPackage();
    }

    /// <summary>Replaces the package's terms; purchases made before keep the terms they were bought with.</summary>
    public async Task<Package?> UpdateAsync(Guid tenantId, Guid id, PackageInput input)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"""
            UPDATE packages SET name = @name, minutes = @Minutes, price = @Price, currency = @Currency,
                                validity_days = @ValidityDays, updated_at = @now
            WHERE tenant_id = @tenantId AND id = @id
            RETURNING {Columns}
            """,
            new { tenantId, id, name = input.Name!.Trim(), input.Minutes, input.Price, input.Currency, input.ValidityDays, now = time.GetUtcNow() });
        return row?.ToPackage();
    }

    /// <summary>Takes the package off sale; archiving twice keeps the first archive time.</summary>
    public async Task<Package?> ArchiveAsync(Guid tenantId, Guid id)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"""
            UPDATE packages SET archived_at = coalesce(archived_at, @now), updated_at = CASE WHEN archived_at IS NULL THEN @now ELSE updated_at END
            WHERE tenant_id = @tenantId AND id = @id
            RETURNING {Columns}
            """,
            new { tenantId, id, now = time.GetUtcNow() });
        return row?.ToPackage();
    }

    public async Task<Package?> FindAsync(Guid tenantId, Guid id)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"SELECT {Columns} FROM packages WHERE tenant_id = @tenantId AND id = @id", new { tenantId, id });
        return row?.ToPackage();
    }

    public async Task<IReadOnlyList<Package>> ListAsync(Guid tenantId, bool includeArchived, Guid? after, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<Row>(
            $"""
            SELECT {Columns} FROM packages
            WHERE tenant_id = @tenantId AND (@includeArchived OR archived_at IS NULL) AND (@after::uuid IS NULL OR id > @after)
            ORDER BY id LIMIT @limit
            """,
            new { tenantId, includeArchived, after, limit });
        return rows.Select(r => r.ToPackage()).ToList();
    }

    private sealed record Row(
        Guid Id, string Name, int Minutes, decimal Price, string Currency, int? ValidityDays, DateTime? ArchivedAt,
        DateTime CreatedAt, DateTime UpdatedAt)
    {
        public Package ToPackage() => new(
            Id, Name, Minutes, Price.Normalize(Currency), Currency, ValidityDays, ArchivedAt is not null, CreatedAt.AsUtc(), UpdatedAt.AsUtc());
    }
}

internal static class Prices
{
    /// <summary>numeric(19,4) reads back as 12.5000; answer with the currency's own scale (12.50).</summary>
    public static decimal Normalize(this decimal price, string currency) => decimal.Round(price, Currencies.MinorUnitsOf(currency)) +
        new decimal(0, 0, 0, false, (byte)Currencies.MinorUnitsOf(currency));
}

/// <summary>/v1/packages: the school's catalog. Admins manage it; every user of the school can read the active packages.</summary>
public static class PackageEndpoints
{
    public static RouteGroupBuilder MapPackages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/packages").WithTags("Packages").RequireAuthorization(Policies.TenantUser);
        group.MapPost("/", Create).RequireAuthorization(Policies.Admin).WithName("CreatePackage").WithSummary("Adds a minute package to the catalog.");
        group.MapGet("/", List).WithName("ListPackages")
            .WithSummary("Lists packages on sale, by id with cursor pagination; admins may ask for archived ones too.");
        group.MapGet("/{packageId:guid}", Get).WithName("GetPackage").WithSummary("Gets one package; archived ones are visible to admins only.");
        group.MapPut("/{packageId:guid}", Update).RequireAuthorization(Policies.Admin).WithName("UpdatePackage")
            .WithSummary("Replaces a package's terms; past purchases keep the terms they were bought with.");
        group.MapPost("/{packageId:guid}/archive", Archive).RequireAuthorization(Policies.Admin).WithName("ArchivePackage")
            .WithSummary("Takes a package off sale; minutes already bought stay valid.");
        return group;
    }

    private static bool SeesArchived(Caller caller) => caller.Role is Roles.Admin or Roles.Service;

    private static async Task<Results<Created<Package>, ValidationProblem>> Create(PackageInput input, HttpContext http, PackageStore packages)
    {
        var errors = input.Validate();
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var package = await packages.CreateAsync(http.User.RequiredCaller().TenantId, input);
        return TypedResults.Created($"/v1/packages/{package.Id}", package);
    }

    private static async Task<Results<Ok<Page<Package>>, ValidationProblem>> List(
        HttpContext http, PackageStore packages, string? cursor, int? limit, bool? includeArchived)
    {
        var caller = http.User.RequiredCaller();
        var errors = new FieldErrors()
            .Check(includeArchived != true || SeesArchived(caller), "includeArchived", "Only admins see archived packages.");
        var (afterId, size) = Cursor.ReadGuid(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await packages.ListAsync(caller.TenantId, includeArchived == true, afterId, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, p => p.Id.ToString()));
    }

    private static async Task<Results<Ok<Package>, NotFound>> Get(Guid packageId, HttpContext http, PackageStore packages)
    {
        var caller = http.User.RequiredCaller();
        return await packages.FindAsync(caller.TenantId, packageId) is { } package && (!package.Archived || SeesArchived(caller))
            ? TypedResults.Ok(package)
            : TypedResults.NotFound();
    }

    private static async Task<Results<Ok<Package>, NotFound, ValidationProblem>> Update(
        Guid packageId, PackageInput input, HttpContext http, PackageStore packages)
    {
        var errors = input.Validate();
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        return await packages.UpdateAsync(http.User.RequiredCaller().TenantId, packageId, input) is { } package
            ? TypedResults.Ok(package)
            : TypedResults.NotFound();
    }

    private static async Task<Results<Ok<Package>, NotFound>> Archive(Guid packageId, HttpContext http, PackageStore packages) =>
        await packages.ArchiveAsync(http.User.RequiredCaller().TenantId, packageId) is { } package
            ? TypedResults.Ok(package)
            : TypedResults.NotFound();
}
