namespace Callern.Platform.Infrastructure;

/// <summary>How the platform's host starts, wherever it is started from.</summary>
public static class Hosting
{
    /// <summary>
    /// The content root is the application's own directory (where the build puts appsettings.json),
    /// not the working directory: <c>./run.sh</c> starts the platform from the repository root, and
    /// the default would skip appsettings.json and its logging rules. A content root set on the
    /// command line (<c>--contentRoot</c>) or in the environment (<c>ASPNETCORE_CONTENTROOT</c>,
    /// <c>DOTNET_CONTENTROOT</c>) still wins.
    /// </summary>
    public static WebApplicationOptions Options(string[] args)
    {
        var explicitRoot = new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddCommandLine(args)
            .Build()[WebHostDefaults.ContentRootKey];
        return new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = string.IsNullOrEmpty(explicitRoot) ? AppContext.BaseDirectory : explicitRoot,
        };
    }
}
