using Callern.Platform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>
/// The platform on a real Kestrel socket at 127.0.0.1 (a free port), so the SDK's clients connect
/// exactly as a school's app would: their own HTTP and WebSocket stack, no test handler.
/// </summary>
public class KestrelCallernApp : CallernApp
{
    public KestrelCallernApp()
    {
        UseKestrel(options => options.Listen(System.Net.IPAddress.Loopback, 0));
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address);
    }

    /// <summary>Where the platform listens, for example http://127.0.0.1:40123.</summary>
    public Uri BaseUrl { get; }
}
