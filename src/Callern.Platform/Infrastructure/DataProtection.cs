using Microsoft.AspNetCore.DataProtection;

namespace Callern.Platform.Infrastructure;

public static class DataProtection
{
    /// <summary>
    /// The key ring that protects API key secrets lives outside the database (a directory, shared
    /// by all nodes), so a dump of the database alone cannot sign tokens. See docs/security.md.
    /// </summary>
    public static IServiceCollection AddCallernDataProtection(this IServiceCollection services, IConfiguration configuration)
    {
        var path = configuration["Callern:DataProtection:KeysPath"] ?? Path.Combine(".callern", "keys");
        services.AddDataProtection()
            .SetApplicationName("Callern")
            .PersistKeysToFileSystem(new DirectoryInfo(path));
        return services;
    }
}
