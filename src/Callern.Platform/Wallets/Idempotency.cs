using System.Security.Cryptography;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Dapper;
using Npgsql;

namespace Callern.Platform.Wallets;

/// <summary>
/// Idempotency-Key for money-moving POSTs. The key is claimed by inserting it inside the transaction
/// that moves the money: a concurrent retry's insert waits on the unique key until that transaction
/// ends, then finds the stored response (or, if it rolled back, claims the key itself). So a key
/// credits at most once however many retries race, and the answer is the same every time.
/// </summary>
internal static class Idempotency
{
    public const string Header = "Idempotency-Key";
    public const int MaxKeyLength = 255;
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Printable ASCII without spaces, as the IETF Idempotency-Key draft's examples (UUIDs, random tokens).</summary>
    public static bool IsValidKey(string? key) =>
        key is { Length: >= 1 and <= MaxKeyLength } && key.All(c => c is >= '!' and <= '~');

    /// <summary>A fingerprint of what the request asks for (not of its bytes: reformatted JSON is the same request).</summary>
    public static byte[] Fingerprint(object request) => SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request, Json));

    /// <summary>Claims the key, or returns what an earlier request with it stored.</summary>
    public static async Task<Claim> ClaimAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, string key, byte[] fingerprint, DateTimeOffset now)
    {
        var claimed = await connection.ExecuteAsync(
            """
            INSERT INTO idempotency_keys (tenant_id, key, request_hash, response, created_at)
            VALUES (@tenantId, @key, @fingerprint, 'null', @now) ON CONFLICT DO NOTHING
            """,
            new { tenantId, key, fingerprint, now }, transaction);
        if (claimed == 1)
        {
            return new Claim(true, null, null);
        }
        var stored = await connection.QuerySingleRowAsync<(byte[] RequestHash, string Response)>(
            "SELECT request_hash, response::text AS response FROM idempotency_keys WHERE tenant_id = @tenantId AND key = @key",
            new { tenantId, key }, transaction);
        return new Claim(false, stored.RequestHash.AsSpan().SequenceEqual(fingerprint), stored.Response);
    }

    public static Task StoreAsync<T>(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid tenantId, string key, T response) =>
        connection.ExecuteAsync(
            "UPDATE idempotency_keys SET response = @response::jsonb WHERE tenant_id = @tenantId AND key = @key",
            new { tenantId, key, response = JsonSerializer.Serialize(response, Json) }, transaction);

    public static T Replay<T>(string response) => JsonSerializer.Deserialize<T>(response, Json)!;

    /// <param name="Claimed">This request owns the key and does the work.</param>
    /// <param name="SameRequest">For an existing key: whether it was used for this very request.</param>
    /// <param name="Response">For an existing key: the stored response.</param>
    public sealed record Claim(bool Claimed, bool? SameRequest, string? Response);
}
