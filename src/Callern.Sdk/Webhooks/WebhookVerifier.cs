using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Callern.Sdk.Webhooks;

/// <summary>
/// Verifies the platform's webhooks (the Standard Webhooks scheme) and reads their envelope. The
/// platform signs <c>{webhook-id}.{webhook-timestamp}.{body}</c> with HMAC-SHA256 under the
/// endpoint's secret and sends the signature as <c>v1,&lt;base64&gt;</c> in <c>webhook-signature</c>;
/// while a secret is being rotated it sends one signature per secret. Give the verifier every
/// secret that is currently valid: a request passes when any of its <c>v1</c> signatures matches
/// any of them. Thread-safe; make one per endpoint and keep it.
/// </summary>
/// <example>
/// <code>
/// var verifier = new WebhookVerifier(configuration["Callern:WebhookSecret"]!);
/// var e = verifier.Verify(rawBody, name => request.Headers[name]);
/// </code>
/// </example>
public sealed class WebhookVerifier
{
    /// <summary>The header carrying the event id.</summary>
    public const string IdHeader = "webhook-id";
    /// <summary>The header carrying the signing time in unix seconds.</summary>
    public const string TimestampHeader = "webhook-timestamp";
    /// <summary>The header carrying the space-separated signatures (<c>v1,&lt;base64&gt;</c>).</summary>
    public const string SignatureHeader = "webhook-signature";
    /// <summary>The prefix of a secret as the platform shows it: <c>whsec_</c> and the key in base64.</summary>
    public const string SecretPrefix = "whsec_";
    /// <summary>How far the signing time may be from now, either way, unless another tolerance is given: 5 minutes.</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    private const string SignatureVersion = "v1,";

    // The same reading of JSON as the platform's writing (camelCase), and no silent defaults: a
    // missing or null field of the envelope makes the body invalid instead of an event with holes.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    private readonly byte[][] _keys;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _time;

    /// <summary>Creates a verifier for one or more secrets, with the default tolerance and the system clock.</summary>
    /// <param name="secrets">The endpoint's secrets (<c>whsec_…</c>): one, or two during a rotation.</param>
    /// <exception cref="ArgumentException">No secret, or one that is not <c>whsec_</c> followed by base64.</exception>
    public WebhookVerifier(params string[] secrets)
        : this(secrets, null, null)
    {
    }

    /// <summary>Creates a verifier for one or more secrets.</summary>
    /// <param name="secrets">The endpoint's secrets (<c>whsec_…</c>): one, or two during a rotation.</param>
    /// <param name="tolerance">
    /// How far the signing time may be from now, in either direction; defaults to
    /// <see cref="DefaultTolerance"/>. Older requests are refused as replays.
    /// </param>
    /// <param name="time">The clock; defaults to the system clock.</param>
    /// <exception cref="ArgumentException">No secret, or one that is not <c>whsec_</c> followed by base64.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    public WebhookVerifier(IEnumerable<string> secrets, TimeSpan? tolerance = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        _keys = [.. secrets.Select(Key)];
        if (_keys.Length == 0)
        {
            throw new ArgumentException("At least one webhook secret is needed.", nameof(secrets));
        }
        _tolerance = tolerance ?? DefaultTolerance;
        ArgumentOutOfRangeException.ThrowIfLessThan(_tolerance, TimeSpan.Zero, nameof(tolerance));
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Verifies a request whose body was read as text, and returns its event.</summary>
    /// <param name="body">The raw request body, exactly as received (never re-serialized JSON).</param>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="signature">The <c>webhook-signature</c> header.</param>
    /// <returns>The event envelope.</returns>
    /// <exception cref="WebhookVerificationException">The request is not authentic, too old or too new, or not an event; see its <c>Code</c>.</exception>
    public WebhookEvent Verify(string body, string? id, string? timestamp, string? signature)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Verify(Encoding.UTF8.GetBytes(body), id, timestamp, signature);
    }

    /// <summary>Verifies a request from its raw body bytes, and returns its event.</summary>
    /// <param name="body">The raw request body, exactly as received.</param>
    /// <param name="id">The <c>webhook-id</c> header.</param>
    /// <param name="timestamp">The <c>webhook-timestamp</c> header.</param>
    /// <param name="signature">The <c>webhook-signature</c> header.</param>
    /// <returns>The event envelope.</returns>
    /// <exception cref="WebhookVerificationException">The request is not authentic, too old or too new, or not an event; see its <c>Code</c>.</exception>
    public WebhookEvent Verify(ReadOnlySpan<byte> body, string? id, string? timestamp, string? signature)
    {
        id = Required(id, IdHeader);
        timestamp = Required(timestamp, TimestampHeader);
        signature = Required(signature, SignatureHeader);
        CheckTimestamp(timestamp);
        CheckSignature(body, id, timestamp, signature);
        return ReadEnvelope(body);
    }

    /// <summary>Verifies a request whose body was read as text, reading the three headers through <paramref name="header"/>.</summary>
    /// <param name="body">The raw request body, exactly as received (never re-serialized JSON).</param>
    /// <param name="header">
    /// Returns a request header's value, or null when it is absent. It is asked for
    /// <c>webhook-id</c>, <c>webhook-timestamp</c> and <c>webhook-signature</c> in lower case;
    /// header names are case-insensitive in HTTP, so the lookup must be too (ASP.NET Core's
    /// <c>name => request.Headers[name]</c> is).
    /// </param>
    /// <returns>The event envelope.</returns>
    /// <exception cref="WebhookVerificationException">The request is not authentic, too old or too new, or not an event; see its <c>Code</c>.</exception>
    public WebhookEvent Verify(string body, Func<string, string?> header)
    {
        ArgumentNullException.ThrowIfNull(header);
        return Verify(body, header(IdHeader), header(TimestampHeader), header(SignatureHeader));
    }

    /// <summary>Verifies a request from its raw body bytes, reading the three headers through <paramref name="header"/>.</summary>
    /// <param name="body">The raw request body, exactly as received.</param>
    /// <param name="header">
    /// Returns a request header's value, or null when it is absent. It is asked for
    /// <c>webhook-id</c>, <c>webhook-timestamp</c> and <c>webhook-signature</c> in lower case;
    /// header names are case-insensitive in HTTP, so the lookup must be too (ASP.NET Core's
    /// <c>name => request.Headers[name]</c> is).
    /// </param>
    /// <returns>The event envelope.</returns>
    /// <exception cref="WebhookVerificationException">The request is not authentic, too old or too new, or not an event; see its <c>Code</c>.</exception>
    public WebhookEvent Verify(ReadOnlySpan<byte> body, Func<string, string?> header)
    {
        ArgumentNullException.ThrowIfNull(header);
        return Verify(body, header(IdHeader), header(TimestampHeader), header(SignatureHeader));
    }

    private static byte[] Key(string secret)
    {
        if (secret is null || !secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"A webhook secret starts with {SecretPrefix}.", "secrets");
        }
        byte[] key;
        try
        {
            key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"A webhook secret is {SecretPrefix} followed by base64.", "secrets", e);
        }
        return key.Length > 0 ? key : throw new ArgumentException("A webhook secret has a key after its prefix.", "secrets");
    }

    private static string Required(string? value, string header) =>
        string.IsNullOrWhiteSpace(value)
            ? throw new WebhookVerificationException(WebhookVerificationException.MissingHeader, $"The {header} header is missing.")
            : value;

    private void CheckTimestamp(string timestamp)
    {
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var sent))
        {
            throw new WebhookVerificationException(WebhookVerificationException.InvalidTimestamp, $"The {TimestampHeader} header is not unix seconds.");
        }
        // Whole seconds on both sides, as the header has them; no overflow for any header value.
        var age = _time.GetUtcNow().ToUnixTimeSeconds() - sent;
        if (age > _tolerance.TotalSeconds)
        {
            throw new WebhookVerificationException(WebhookVerificationException.TimestampTooOld, $"The request was signed {age} s ago, more than the tolerance.");
        }
        if (-age > _tolerance.TotalSeconds)
        {
            throw new WebhookVerificationException(WebhookVerificationException.TimestampInFuture, $"The request claims to be signed {-age} s from now, more than the tolerance.");
        }
    }

    private void CheckSignature(ReadOnlySpan<byte> body, string id, string timestamp, string header)
    {
        // The signatures the request would carry under each secret, then any v1 entry equal to one.
        var expected = new byte[_keys.Length][];
        for (var i = 0; i < _keys.Length; i++)
        {
            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _keys[i]);
            hmac.AppendData(Encoding.UTF8.GetBytes($"{id}.{timestamp}."));
            hmac.AppendData(body);
            expected[i] = hmac.GetHashAndReset();
        }
        foreach (var entry in header.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            // Other versions are for other verifiers; an entry that is not base64 matches nothing.
            if (!entry.StartsWith(SignatureVersion, StringComparison.Ordinal))
            {
                continue;
            }
            var given = new byte[SHA256.HashSizeInBytes];
            if (!Convert.TryFromBase64String(entry[SignatureVersion.Length..], given, out var length) || length != given.Length)
            {
                continue;
            }
            foreach (var signature in expected)
            {
                if (CryptographicOperations.FixedTimeEquals(signature, given))
                {
                    return;
                }
            }
        }
        throw new WebhookVerificationException(WebhookVerificationException.InvalidSignature, "No v1 signature of the request matches a webhook secret.");
    }

    private static WebhookEvent ReadEnvelope(ReadOnlySpan<byte> body)
    {
        WebhookEvent? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<WebhookEvent>(body, Json);
        }
        catch (JsonException e)
        {
            throw new WebhookVerificationException(WebhookVerificationException.InvalidBody, "The body is not a webhook event envelope.", e);
        }
        return envelope is { Id.Length: > 0, Type.Length: > 0, Sequence: >= 1, Data.ValueKind: JsonValueKind.Object }
            ? envelope
            : throw new WebhookVerificationException(WebhookVerificationException.InvalidBody, "The body is not a webhook event envelope.");
    }
}
