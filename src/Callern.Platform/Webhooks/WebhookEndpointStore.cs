using System.Security.Cryptography;
using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;

namespace Callern.Platform.Webhooks;

/// <summary>A school's webhook receiver, without its secret.</summary>
public sealed record WebhookEndpoint(
    Guid Id, string Url, string? Description, IReadOnlyList<string>? Events, bool Enabled, string? DisabledReason,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A receiver just created or given a new secret: the secret (<c>whsec_</c> + base64) is shown this once.</summary>
public sealed record WebhookEndpointWithSecret(WebhookEndpoint Endpoint, string Secret, DateTimeOffset? PreviousSecretValidUntil);

/// <summary>The secrets a delivery is signed with: the current one, and during a rotation the previous one.</summary>
public sealed record SigningSecrets(string Current, string? Previous);

/// <summary>
/// Webhook endpoints and their signing secrets, protected at rest with Data Protection like API keys
/// (a database dump alone cannot forge a delivery).
/// </summary>
public sealed class WebhookEndpointStore(NpgsqlDataSource db, IDataProtectionProvider protection, TimeProvider time)
{
    public const int MaxPerTenant = 20;
    public static readonly TimeSpan RotationOverlap = TimeSpan.FromHours(24);
    private const string Columns =
        "id, url, description, event_types AS events, disabled_at IS NULL AS enabled, disabled_reason, created_at, updated_at";
    private readonly IDataProtector _protector = protection.CreateProtector("Callern.Webhooks.Secret.v1");

    /// <summary>Null when the tenant has <see cref="MaxPerTenant"/> endpoints already.</summary>
    public async Task<WebhookEndpointWithSecret?> CreateAsync(Guid tenantId, string url, IReadOnlyList<string>? events, string? description)
    {
        var secret = NewSecret();
        var now = time.GetUtcNow().ToDatabasePrecision();
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"""
            INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, protected_secret, created_at, updated_at)
            SELECT @id, @tenantId, @url, @description, @events, @secret, @now, @now
            WHERE (SELECT count(*) FROM webhook_endpoints WHERE tenant_id = @tenantId) < @max
            RETURNING {Columns}
            """,
            new { id = Guid.CreateVersion7(now), tenantId, url, description, events = events?.ToArray(), secret = _protector.Protect(secret), now, max = MaxPerTenant });
        return row is null ? null : new WebhookEndpointWithSecret(row.ToEndpoint(), secret, null);
    }

    public async Task<IReadOnlyList<WebhookEndpoint>> ListAsync(Guid tenantId, Guid? after, int limit)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QueryRowsAsync<Row>(
            $"SELECT {Columns} FROM webhook_endpoints WHERE tenant_id = @tenantId AND (@after::uuid IS NULL OR id > @after) ORDER BY id LIMIT @limit",
            new { tenantId, after, limit })).Select(r => r.ToEndpoint()).ToList();
    }

    public async Task<WebhookEndpoint?> GetAsync(Guid tenantId, Guid id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"SELECT {Columns} FROM webhook_endpoints WHERE tenant_id = @tenantId AND id = @id", new { tenantId, id }))?.ToEndpoint();
    }

    /// <summary>Replaces the endpoint's URL, filter, description and state; disabling keeps its pending deliveries for when it is enabled again.</summary>
    public async Task<WebhookEndpoint?> UpdateAsync(Guid tenantId, Guid id, string url, IReadOnlyList<string>? events, string? description, bool enabled)
    {
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"""
            UPDATE webhook_endpoints SET url = @url, event_types = @events, description = @description, updated_at = @now,
                disabled_at = CASE WHEN @enabled THEN NULL ELSE coalesce(disabled_at, @now) END,
                disabled_reason = CASE WHEN @enabled THEN NULL WHEN disabled_at IS NULL THEN 'disabled by the school' ELSE disabled_reason END
            WHERE tenant_id = @tenantId AND id = @id
            RETURNING {Columns}
            """,
            new { tenantId, id, url, events = events?.ToArray(), description, enabled, now = time.GetUtcNow().ToDatabasePrecision() }))?.ToEndpoint();
    }

    public async Task<bool> DeleteAsync(Guid tenantId, Guid id)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await connection.ExecuteAsync("DELETE FROM webhook_endpoints WHERE tenant_id = @tenantId AND id = @id", new { tenantId, id }) > 0;
    }

    /// <summary>A new secret; the current one keeps signing too for <see cref="RotationOverlap"/>.</summary>
    public async Task<WebhookEndpointWithSecret?> RotateSecretAsync(Guid tenantId, Guid id)
    {
        var secret = NewSecret();
        var now = time.GetUtcNow().ToDatabasePrecision();
        var until = now + RotationOverlap;
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<Row>(
            $"""
            UPDATE webhook_endpoints SET protected_previous = protected_secret, previous_secret_until = @until,
                protected_secret = @secret, updated_at = @now
            WHERE tenant_id = @tenantId AND id = @id
            RETURNING {Columns}
            """,
            new { tenantId, id, secret = _protector.Protect(secret), until, now });
        return row is null ? null : new WebhookEndpointWithSecret(row.ToEndpoint(), secret, until);
    }

    /// <summary>The secrets to sign with now, from the protected columns a delivery's claim read.</summary>
    public SigningSecrets Secrets(string protectedSecret, string? protectedPrevious, DateTimeOffset? previousUntil) =>
        new(_protector.Unprotect(protectedSecret),
            protectedPrevious is not null && previousUntil > time.GetUtcNow() ? _protector.Unprotect(protectedPrevious) : null);

    private static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>A class, not a positional record: Dapper reports an array column as System.Array to a constructor.</summary>
    private sealed class Row
    {
        public Guid Id { get; init; }
        public string Url { get; init; } = "";
        public string? Description { get; init; }
        public string[]? Events { get; init; }
        public bool Enabled { get; init; }
        public string? DisabledReason { get; init; }
        public DateTime CreatedAt { get; init; }
        public DateTime UpdatedAt { get; init; }

        public WebhookEndpoint ToEndpoint() =>
            new(Id, Url, Description, Events, Enabled, DisabledReason, CreatedAt.AsUtc(), UpdatedAt.AsUtc());
    }
}
