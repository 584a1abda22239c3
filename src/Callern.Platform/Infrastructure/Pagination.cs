using System.Text;

namespace Callern.Platform.Infrastructure;

/// <summary>A page of a list; pass <see cref="NextCursor"/> back as <c>cursor</c> for the next one.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// Opaque keyset cursors: the sort key of the last item, base64url-encoded. A cursor that does not
/// decode to storable UTF-8 text is refused as a field error (a forged one decodes to garbage).
/// </summary>
public static class Cursor
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Refuses bytes that are not UTF-8, rather than turning them into replacement characters.</summary>
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(string key) => Base64Url(Encoding.UTF8.GetBytes(key));

    public static bool TryDecode(string? cursor, out string? key)
    {
        key = null;
        if (string.IsNullOrEmpty(cursor))
        {
            return true;
        }
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            key = StrictUtf8.GetString(Convert.FromBase64String(padded));
            return StorableText.IsStorable(key);
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>Validates the cursor and limit query values, adding field errors when wrong.</summary>
    public static (string? After, int Limit) Read(string? cursor, int? limit, FieldErrors errors)
    {
        errors.Check(TryDecode(cursor, out var after), "cursor", "Not a cursor returned by this list.");
        errors.Check(limit is null or (>= 1 and <= MaxLimit), "limit", $"Between 1 and {MaxLimit}.");
        return (after, limit ?? DefaultLimit);
    }

    /// <summary>As <see cref="Read"/>, for lists keyed by a UUID.</summary>
    public static (Guid? After, int Limit) ReadGuid(string? cursor, int? limit, FieldErrors errors)
    {
        var (after, size) = Read(cursor, limit, errors);
        if (after is null)
        {
            return (null, size);
        }
        errors.Check(Guid.TryParse(after, out var id), "cursor", "Not a cursor returned by this list.");
        return (id, size);
    }

    /// <summary>Builds a page from up to limit + 1 rows fetched in key order.</summary>
    public static Page<T> ToPage<T>(IReadOnlyList<T> rows, int limit, Func<T, string> key) =>
        rows.Count > limit
            ? new Page<T>(rows.Take(limit).ToList(), Encode(key(rows[limit - 1])))
            : new Page<T>(rows, null);

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
