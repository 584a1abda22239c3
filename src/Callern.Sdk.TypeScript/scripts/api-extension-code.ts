// Appended to src/generated/api.ts by NSwag (/extensionCode). NSwag leaves FileParameter out when
// the multipart body is a $ref'd schema, as the platform's file upload is; the client uses it.
export interface FileParameter {
  data: Blob;
  fileName: string;
}
