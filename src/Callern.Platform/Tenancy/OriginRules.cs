namespace Callern.Platform.Tenancy;

/// <summary>
/// What a browser origin is, written as a browser writes it in its <c>Origin</c> header:
/// <c>scheme://host[:port]</c>, http or https, lower case, punycode host, no default port, no path,
/// query, fragment or user info, and no wildcard (a school lists each of its web apps' origins).
/// </summary>
public static class OriginRules
{
    /// <summary>The most origins one school may list.</summary>
    public const int MaxPerTenant = 50;

    /// <summary>Longer than any real origin (a host name is at most 253 characters).</summary>
    public const int MaxLength = 300;

    public const string Hint = "An origin such as https://school.example: http or https, a host, an optional port; no path, no wildcard.";

    /// <summary>The origin as a browser sends it, or null when <paramref name="value"/> is not one.</summary>
    public static string? Normalize(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength || value.Contains('*')
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("https" or "http")
            || uri.HostNameType is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || uri.UserInfo.Length > 0
            // The string itself, not the parsed URI: Uri adds "/" as the path of "https://a.example".
            || value.IndexOf('/', uri.Scheme.Length + 3) >= 0 || value.Contains('?') || value.Contains('#'))
        {
            return null;
        }
        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost;
        return (uri.IsDefaultPort ? $"{uri.Scheme}://{host}" : $"{uri.Scheme}://{host}:{uri.Port}").ToLowerInvariant();
    }
}
