using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Callern.Platform.Tenancy;

public sealed record Tenant(Guid Id, string Name, DateTimeOffset CreatedAt);

public sealed record CreateTenantRequest(string? Name);

public sealed record CreatedTenant(Tenant Tenant, NewApiKey ApiKey);

public sealed class TenantStore(NpgsqlDataSource db, ApiKeyStore keys, TimeProvider time)
{
    public async Task<CreatedTenant> CreateAsync(string name)
    {
        var now = time.GetUtcNow();
        var tenant = new Tenant(Guid.CreateVersion7(now), name, now.ToDatabasePrecision());
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync(
            "INSERT INTO tenants (id, name, created_at) VALUES (@Id, @Name, @CreatedAt)", tenant, transaction);
        var key = await keys.CreateAsync(tenant.Id, connection, transaction);
        await transaction.CommitAsync();
        return new CreatedTenant(tenant, key);
    }

    public async Task<Tenant?> FindAsync(Guid id)
    {
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<(Guid Id, string Name, DateTime CreatedAt)>(
            "SELECT id, name, created_at FROM tenants WHERE id = @id", new { id });
        return row.Id == Guid.Empty ? null : new Tenant(row.Id, row.Name, row.CreatedAt.AsUtc());
    }

    public async Task<IReadOnlyList<Tenant>> ListAsync(Guid? after, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<(Guid Id, string Name, DateTime CreatedAt)>(
            "SELECT id, name, created_at FROM tenants WHERE @after::uuid IS NULL OR id > @after ORDER BY id LIMIT @limit",
            new { after, limit });
        return rows.Select(r => new Tenant(r.Id, r.Name, r.CreatedAt.AsUtc())).ToList();
    }
}

/// <summary>Operator endpoints: tenants (schools) and their API keys.</summary>
public static class Tenants
{
    public static RouteGroupBuilder MapTenants(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/tenants").WithTags("Tenants").RequireAuthorization(Policies.Operator);
        group.MapPost("/", Create).WithName("CreateTenant").WithSummary("Creates a tenant (school) with its first API key; the secret is shown once.");
        group.MapGet("/", List).WithName("ListTenants").WithSummary("Lists tenants, oldest first, with cursor pagination.");
        group.MapGet("/{tenantId:guid}", Get).WithName("GetTenant").WithSummary("Gets one tenant.");
        group.MapPost("/{tenantId:guid}/api-keys", CreateKey).WithName("CreateApiKey").WithSummary("Adds an API key; several may be active at once for rotation. The secret is shown once.");
        group.MapGet("/{tenantId:guid}/api-keys", ListKeys).WithName("ListApiKeys").WithSummary("Lists the tenant's API keys without their secrets.");
        group.MapDelete("/{tenantId:guid}/api-keys/{keyId}", RevokeKey).WithName("RevokeApiKey").WithSummary("Revokes an API key; tokens it signed stop working within a minute.");
        return group;
    }

    private static async Task<Results<Created<CreatedTenant>, ValidationProblem>> Create(CreateTenantRequest request, TenantStore tenants)
    {
        var errors = new FieldErrors().Required(request.Name, "name");
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var created = await tenants.CreateAsync(request.Name!.Trim());
        return TypedResults.Created($"/v1/tenants/{created.Tenant.Id}", created);
    }

    private static async Task<Results<Ok<Page<Tenant>>, ValidationProblem>> List(TenantStore tenants, string? cursor, int? limit)
    {
        var errors = new FieldErrors();
        var (afterId, size) = Cursor.ReadGuid(cursor, limit, errors);
        if (!errors.IsEmpty)
        {
            return errors.ToProblem();
        }
        var rows = await tenants.ListAsync(afterId, size + 1);
        return TypedResults.Ok(Cursor.ToPage(rows, size, t => t.Id.ToString()));
    }

    private static async Task<Results<Ok<Tenant>, NotFound>> Get(Guid tenantId, TenantStore tenants) =>
        await tenants.FindAsync(tenantId) is { } tenant ? TypedResults.Ok(tenant) : TypedResults.NotFound();

    private static async Task<Results<Created<NewApiKey>, NotFound>> CreateKey(Guid tenantId, TenantStore tenants, ApiKeyStore keys)
    {
        if (await tenants.FindAsync(tenantId) is null)
        {
            return TypedResults.NotFound();
        }
        var key = await keys.CreateAsync(tenantId);
        return TypedResults.Created($"/v1/tenants/{tenantId}/api-keys/{key.KeyId}", key);
    }

    private static async Task<Results<Ok<IReadOnlyList<ApiKeyInfo>>, NotFound>> ListKeys(Guid tenantId, TenantStore tenants, ApiKeyStore keys) =>
        await tenants.FindAsync(tenantId) is null ? TypedResults.NotFound() : TypedResults.Ok(await keys.ListAsync(tenantId));

    private static async Task<Results<NoContent, NotFound>> RevokeKey(Guid tenantId, string keyId, ApiKeyStore keys) =>
        await keys.RevokeAsync(tenantId, keyId) ? TypedResults.NoContent() : TypedResults.NotFound();
}

public static class TenancyServices
{
    public static IServiceCollection AddTenancy(this IServiceCollection services) =>
        services.AddSingleton<TenantStore>()
            .AddSingleton<SettingsStore>()
            .AddSingleton<SettingsChanges>()
            .AddNoticeHandler<SettingsChanges>();
}
