using System.Net;
using System.Net.Sockets;

namespace Callern.Platform.Webhooks;

/// <summary>
/// Where webhooks may go. Outside Development (or unless <see cref="WebhookOptions.AllowLocalReceivers"/>)
/// a receiver must be HTTPS at a public address: not loopback, private, link-local (the cloud
/// metadata address among them), carrier-grade NAT, multicast or reserved. A name is checked when
/// the endpoint is saved, and every address it resolves to is checked again when a delivery
/// connects (<see cref="WebhookSender"/>), so a name that later resolves inward (DNS rebinding) reaches nothing.
/// </summary>
public static class ReceiverAddresses
{
    public const int MaxUrlLength = 2000;

    /// <summary>Why the URL cannot be a receiver, or null when it can (the name's addresses are checked separately).</summary>
    public static string? Refusal(string? url, bool allowLocal)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return $"An absolute URL of at most {MaxUrlLength} characters.";
        }
        if (uri.Scheme != Uri.UriSchemeHttps && !(allowLocal && uri.Scheme == Uri.UriSchemeHttp))
        {
            return allowLocal ? "An http or https URL." : "An https URL (plain http only in Development).";
        }
        if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            return "A URL without user information or fragment.";
        }
        if (!allowLocal && (uri.IsLoopback || uri.HostNameType == UriHostNameType.Dns && !uri.Host.Contains('.', StringComparison.Ordinal)
            || IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var literal) && !IsPublic(literal)))
        {
            return "A public address: loopback, private, link-local and reserved addresses are refused outside Development.";
        }
        return null;
    }

    /// <summary>Whether every address the URL's host resolves to is public (or <paramref name="allowLocal"/>).</summary>
    public static async Task<bool> ResolvesPubliclyAsync(Uri uri, bool allowLocal, CancellationToken cancellationToken)
    {
        if (allowLocal)
        {
            return true;
        }
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, cancellationToken);
            return addresses.Length > 0 && addresses.All(IsPublic);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 or >= 224
                || b[0] == 100 && b[1] is >= 64 and <= 127        // carrier-grade NAT
                || b[0] == 169 && b[1] == 254                     // link-local, cloud metadata
                || b[0] == 172 && b[1] is >= 16 and <= 31
                || b[0] == 192 && b[1] == 168
                || b[0] == 192 && b[1] == 0 && b[2] is 0 or 2     // IETF protocol assignments, documentation
                || b[0] == 198 && b[1] is 18 or 19                // benchmarking
                || b[0] == 198 && b[1] == 51 && b[2] == 100
                || b[0] == 203 && b[1] == 0 && b[2] == 113);
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return !(IPAddress.IPv6Loopback.Equals(address) || IPAddress.IPv6None.Equals(address)
                || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc                          // unique local fc00::/7
                || b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8); // documentation 2001:db8::/32
        }
        return false;
    }
}
