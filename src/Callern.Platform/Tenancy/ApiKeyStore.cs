using System.Security.Cryptography;
using Callern.Platform.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Caching.Memory;
using Npgsql;

namespace Callern.Platform.Tenancy;

public sealed record ApiKeyInfo(string KeyId, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>An API key with its secret in clear; the secret is returned once, at creation.</summary>
public sealed record NewApiKey(string KeyId, string Secret, DateTimeOffset CreatedAt);

/// <summary>A usable key as the authentication handlers see it.</summary>
public sealed record SigningKey(string KeyId, Guid TenantId, string Secret);

/// <summary>
/// API keys: the secret is stored protected with ASP.NET Core Data Protection (key ring outside the
/// database), looked up by keyId for token validation and cached on each node. A revocation on any
/// node reaches every node's cache through a notice (<see cref="Notices"/>); were the notice lost
/// (the database away), it takes effect within <see cref="CacheFor"/>.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource db, IDataProtectionProvider protection, IMemoryCache cache, Notices notices, TimeProvider time)
    : INoticeHandler
{
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CacheMissFor = TimeSpan.FromSeconds(5);
    private readonly IDataProtector _protector = protection.CreateProtector("Callern.ApiKeys.v1");

    /// <summary>Changes with every revocation heard of: a key cached under another generation is read again.</summary>
    private long _generation;

    private sealed record Cached(SigningKey? Key, long Generation);

    public string Channel => "callern_api_keys";

    public void Heard(string payload) => Interlocked.Increment(ref _generation);

    public void MayHaveMissed() => Interlocked.Increment(ref _generation);

    public async Task<NewApiKey> CreateAsync(Guid tenantId, NpgsqlConnection connection, NpgsqlTransaction? transaction = null)
    {
        var key = new NewApiKey(
            "ck_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10)),
            "cs_" + Base64Url(RandomNumberGenerator.GetBytes(32)),
            time.GetUtcNow().ToDatabasePrecision());
        await connection.ExecuteAsync(
            "INSERT INTO api_keys (key_id, tenant_id, protected_secret, created_at) VALUES (@KeyId, @tenantId, @secret, @CreatedAt)",
            new { key.KeyId, tenantId, secret = _protector.Protect(key.Secret), key.CreatedAt }, transaction);
        return key;
    }

    public async Task<NewApiKey> CreateAsync(Guid tenantId)
    {
        await using var connection = await db.OpenConnectionAsync();
        return await CreateAsync(tenantId, connection);
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(Guid tenantId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await connection.QueryRowsAsync<(string KeyId, DateTime CreatedAt, DateTime? RevokedAt)>(
            "SELECT key_id, created_at, revoked_at FROM api_keys WHERE tenant_id = @tenantId ORDER BY created_at, key_id",
            new { tenantId });
        return rows.Select(r => new ApiKeyInfo(r.KeyId, r.CreatedAt.AsUtc(), r.RevokedAt?.AsUtc())).ToList();
    }

    /// <summary>Revokes a key of the tenant; false when the tenant has no such key.</summary>
    public async Task<bool> RevokeAsync(Guid tenantId, string keyId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var found = await connection.ExecuteAsync(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, @now) WHERE tenant_id = @tenantId AND key_id = @keyId",
            new { tenantId, keyId, now = time.GetUtcNow() });
        Heard(keyId);
        notices.Publish(Channel, keyId);
        return found == 1;
    }

    /// <summary>The active key with this id, or null when unknown or revoked.</summary>
    public async ValueTask<SigningKey?> FindActiveAsync(string keyId)
    {
        if (cache.TryGetValue(CacheKey(keyId), out Cached? cached) && cached!.Generation == Interlocked.Read(ref _generation))
        {
            return cached.Key;
        }
        // Taken before reading: a revocation heard of during the read leaves this entry stale.
        var generation = Interlocked.Read(ref _generation);
        await using var connection = await db.OpenConnectionAsync();
        var row = await connection.QuerySingleRowOrDefaultAsync<(string KeyId, Guid TenantId, string ProtectedSecret)>(
            "SELECT key_id, tenant_id, protected_secret FROM api_keys WHERE key_id = @keyId AND revoked_at IS NULL",
            new { keyId });
        var key = row.KeyId is null ? null : new SigningKey(row.KeyId, row.TenantId, _protector.Unprotect(row.ProtectedSecret));
        cache.Set(CacheKey(keyId), new Cached(key, generation), key is null ? CacheMissFor : CacheFor);
        return key;
    }

    /// <summary>The secret of an existing key, for the demo seed that rewrites .callern/demo.json.</summary>
    public async Task<string?> RevealAsync(Guid tenantId, string keyId)
    {
        await using var connection = await db.OpenConnectionAsync();
        var secret = await connection.QuerySingleRowOrDefaultAsync<string>(
            "SELECT protected_secret FROM api_keys WHERE tenant_id = @tenantId AND key_id = @keyId AND revoked_at IS NULL",
            new { tenantId, keyId });
        return secret is null ? null : _protector.Unprotect(secret);
    }

    private static string CacheKey(string keyId) => "apikey:" + keyId;

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
