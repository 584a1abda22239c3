using System.Security.Cryptography;
using System.Text;

namespace Callern.Platform.Webhooks;

/// <summary>
/// Standard Webhooks signatures: <c>v1,</c> + base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>,
/// keyed with the secret's bytes (the base64 after <c>whsec_</c>); one per secret in use, space-separated.
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";

    public static string Header(string id, long timestamp, ReadOnlySpan<byte> body, SigningSecrets secrets) =>
        secrets.Previous is null
            ? Sign(secrets.Current, id, timestamp, body)
            : Sign(secrets.Current, id, timestamp, body) + " " + Sign(secrets.Previous, id, timestamp, body);

    private static string Sign(string secret, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(secret[SecretPrefix.Length..]), content));
    }
}
